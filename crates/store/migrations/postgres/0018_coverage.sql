-- What the knowledge base covers, so that a scan can say what it could not check: one row per
-- package ecosystem (`pkg:<ecosystem>`, as advisory_product names it) and one for CPE-named
-- products (`cpe`), with how many vulnerabilities it holds and when an import last changed them.
-- Imports keep it current (ImportTx::commit).
CREATE TABLE knowledge_coverage (
    key          TEXT COLLATE "C" PRIMARY KEY,
    advisories   BIGINT NOT NULL,
    updated      TEXT COLLATE "C" NOT NULL
);
INSERT INTO knowledge_coverage (key, advisories, updated)
SELECT CASE WHEN p.vendor LIKE 'pkg:%' THEN p.vendor ELSE 'cpe' END,
       COUNT(DISTINCT p.vuln_id), MAX(a.imported_at)
FROM advisory_product p JOIN advisory a ON a.vuln_id = p.vuln_id AND a.source = p.source
GROUP BY 1;
