//! The one table of every operation the API serves ([`ROUTES`]): the router is built from it,
//! and so is the OpenAPI 3.1 document (`GET /api/v1/openapi.json`), whose response bodies are
//! the JSON Schemas of the handlers' own response types (schemars, from their serde
//! derives). A test validates the document with `openapi-spec-validator`; a snapshot pins it.

use std::sync::Arc;

use axum::routing::MethodRouter;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::api::{
    alerts, assets, exposure, incidents, knowledge, organisations, reports, session, taxii, vex,
};

/// Who may call an operation.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    Public,
    /// Any valid token or session (the data is scoped to the caller's organisation).
    Any,
    /// Only these roles.
    Roles(&'static [&'static str]),
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    None,
    /// JSON with these (name, type, required, description) fields.
    Json(&'static [(&'static str, &'static str, bool, &'static str)]),
    /// Raw bytes of a file (an SBOM, a STIX bundle).
    File(&'static str),
}

#[derive(Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub query: &'static [(&'static str, &'static str)],
    pub body: Body,
    /// The success status.
    pub status: u16,
    /// What a success answers with.
    pub response: Answer,
    /// The handler, as the router mounts it.
    pub handler: fn() -> MethodRouter<Arc<AppState>>,
}

/// A success's body.
#[derive(Clone, Copy)]
pub enum Answer {
    /// No body (204).
    Empty,
    /// JSON of this schema.
    Json(fn(&mut SchemaGenerator) -> Schema),
    /// JSON of this schema, or (`?format=csv`) its rows as CSV.
    JsonOrCsv(fn(&mut SchemaGenerator) -> Schema),
    /// A file: a gzip-compressed tar archive.
    Gzip,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// A schema by reference: `T` lands once in `components.schemas`.
fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

const CENTRAL: &[&str] = &["central-admin", "central-analyst"];
const WRITERS: &[&str] = &[
    "central-admin",
    "central-analyst",
    "member-admin",
    "member-analyst",
];
const ORG: (&str, &str) = (
    "organisation",
    "Central roles: one member's data (slug). Member roles: only their own.",
);

/// Every operation of the API.
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/api/v1/health",
        operation_id: "health",
        summary: "Liveness and version",
        access: Access::Public,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<session::Health>),
        handler: || axum::routing::get(session::health),
    },
    Route {
        method: "get",
        path: "/api/v1/openapi.json",
        operation_id: "openapi",
        summary: "This document",
        access: Access::Public,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<Value>),
        handler: || axum::routing::get(|| async { axum::Json(document()) }),
    },
    Route {
        method: "post",
        path: "/api/v1/login",
        operation_id: "login",
        summary: "Sign in: a session cookie (HttpOnly, Secure, SameSite=Strict) and the CSRF token for unsafe requests; throttled after 5 failures in 15 minutes",
        access: Access::Public,
        query: &[],
        body: Body::Json(&[
            ("email", "string", true, "The user's email"),
            ("password", "string", true, "The password"),
        ]),
        status: 200,
        response: Answer::Json(schema::<session::LoginAnswer>),
        handler: || axum::routing::post(session::login),
    },
    Route {
        method: "post",
        path: "/api/v1/logout",
        operation_id: "logout",
        summary: "End the session",
        access: Access::Public,
        query: &[],
        body: Body::None,
        status: 204,
        response: Answer::Empty,
        handler: || axum::routing::post(session::logout),
    },
    Route {
        method: "get",
        path: "/api/v1/me",
        operation_id: "me",
        summary: "The caller's organisation and role",
        access: Access::Any,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<session::Me>),
        handler: || axum::routing::get(session::me),
    },
    Route {
        method: "get",
        path: "/api/v1/organisations",
        operation_id: "listOrganisations",
        summary: "Organisations (members see their own)",
        access: Access::Any,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<organisations::OrganisationList>),
        handler: || axum::routing::get(organisations::list),
    },
    Route {
        method: "post",
        path: "/api/v1/organisations",
        operation_id: "createOrganisation",
        summary: "Add a member organisation",
        access: Access::Roles(&["central-admin"]),
        query: &[],
        body: Body::Json(&[
            (
                "slug",
                "string",
                true,
                "Lower-case letters, digits, hyphens",
            ),
            ("name", "string", true, "Full name"),
        ]),
        status: 201,
        response: Answer::Json(schema::<organisations::OrganisationAnswer>),
        handler: || axum::routing::post(organisations::create),
    },
    Route {
        method: "get",
        path: "/api/v1/assets",
        operation_id: "listAssets",
        summary: "Assets with their current inventory version and open findings",
        access: Access::Any,
        query: &[ORG],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<assets::AssetList>),
        handler: || axum::routing::get(assets::list),
    },
    Route {
        method: "post",
        path: "/api/v1/assets",
        operation_id: "createAsset",
        summary: "Create an asset (central roles name the member)",
        access: Access::Roles(WRITERS),
        query: &[],
        body: Body::Json(&[
            ("name", "string", true, "Unique within the organisation"),
            (
                "exposure",
                "string",
                false,
                "small, controlled or open (SSVC System Exposure)",
            ),
            (
                "criticality",
                "string",
                false,
                "low, medium, high or very-high (SSVC Human Impact)",
            ),
            ("tags", "array", false, "Free labels"),
            (
                "organisation",
                "string",
                false,
                "Central roles: the member's slug",
            ),
        ]),
        status: 201,
        response: Answer::Json(schema::<assets::AssetAnswer>),
        handler: || axum::routing::post(assets::create),
    },
    Route {
        method: "get",
        path: "/api/v1/assets/{id}",
        operation_id: "getAsset",
        summary: "An asset and its current components",
        access: Access::Any,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<assets::AssetWithComponents>),
        handler: || axum::routing::get(assets::one),
    },
    Route {
        method: "get",
        path: "/api/v1/assets/{id}/inventory",
        operation_id: "inventoryHistory",
        summary: "Every inventory uploaded for the asset",
        access: Access::Any,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<assets::InventoryHistory>),
        handler: || axum::routing::get(assets::inventory_history),
    },
    Route {
        method: "post",
        path: "/api/v1/assets/{id}/inventory",
        operation_id: "uploadInventory",
        summary: "Upload an SBOM (CycloneDX JSON/XML, SPDX JSON) or Ward CSV: matched at once; findings diffed into new, changed and resolved; a malformed file changes nothing",
        access: Access::Roles(WRITERS),
        query: &[(
            "filename",
            "The file's name: tells the format and names the file in errors",
        )],
        body: Body::File("The inventory file"),
        status: 201,
        response: Answer::Json(schema::<assets::UploadAnswer>),
        handler: || axum::routing::post(assets::upload_inventory),
    },
    Route {
        method: "post",
        path: "/api/v1/knowledge/imports",
        operation_id: "importKnowledge",
        summary: "Import a feed file or archive (CVE JSON 5, NVD 2.0, OSV, CSAF, KEV, EPSS, SSVC; .zip, .tar.gz, .gz, .xz) into the knowledge base in one transaction; continuous matching then reaches every affected member",
        access: Access::Roles(&["central-admin"]),
        query: &[
            (
                "filename",
                "The file's name: tells the format (and the archive kind) and names the file in errors",
            ),
            (
                "strict",
                "true: stop at the first bad record and import nothing",
            ),
        ],
        body: Body::File("The feed file or archive"),
        status: 201,
        response: Answer::Json(schema::<knowledge::ImportAnswer>),
        handler: || {
            // Streamed to disk with its own limit (`MAX_IMPORT`), not the body limit.
            axum::routing::post(knowledge::import).layer(axum::extract::DefaultBodyLimit::disable())
        },
    },
    Route {
        method: "get",
        path: "/api/v1/findings",
        operation_id: "worklist",
        summary: "The worklist: open findings, most urgent first (priority, then remediation deadline), a page at a time",
        access: Access::Any,
        query: &[
            ORG,
            ("priority", "immediate, out-of-cycle, scheduled or defer"),
            ("resolved", "true to include resolved findings"),
            (
                "search",
                "text in the vulnerability id, the asset's name or the component",
            ),
            ("asset", "only this asset's findings (its id)"),
            (
                "vulnerability",
                "only this vulnerability's findings (exact id)",
            ),
            ("limit", "page size, 1 to 1000 (100)"),
            (
                "offset",
                "findings to skip (the first pages; use after beyond)",
            ),
            (
                "after",
                "the previous page's next: the page after it, read by keyset",
            ),
            (
                "view",
                "summary: each finding without its explanation; full (default): as stored",
            ),
        ],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<assets::Worklist>),
        handler: || axum::routing::get(assets::findings),
    },
    Route {
        method: "get",
        path: "/api/v1/alerts",
        operation_id: "listAlerts",
        summary: "Alerts: vulnerability alerts and possible compromises",
        access: Access::Any,
        query: &[ORG],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<alerts::AlertList>),
        handler: || axum::routing::get(alerts::list),
    },
    Route {
        method: "post",
        path: "/api/v1/alerts/issue",
        operation_id: "issueAlert",
        summary: "A high severity alert for vulnerabilities: affected members and members to confirm exposure (dry_run previews)",
        access: Access::Roles(CENTRAL),
        query: &[],
        body: Body::Json(&[
            ("vulnerabilities", "array", true, "CVE ids"),
            ("note", "string", false, "What to do"),
            ("dry_run", "boolean", false, "Preview only"),
        ]),
        status: 201,
        response: Answer::Json(schema::<alerts::IssueAnswer>),
        handler: || axum::routing::post(alerts::issue),
    },
    Route {
        method: "post",
        path: "/api/v1/alerts/{id}/{action}",
        operation_id: "actOnAlert",
        summary: "acknowledge, running (a confirm-exposure alert's answer: the version run, in justification), remediate, fix-installed (a hot-fix the version cannot show: its name in justification), accept-risk (justification, until) or not-affected (a CSAF/OpenVEX justification); incidents (possible-compromise alerts): triage, confirm, contain, close (what was done, in justification) or false-positive (why, in justification)",
        access: Access::Roles(&["central-admin", "member-admin", "member-analyst"]),
        query: &[],
        body: Body::Json(&[
            (
                "justification",
                "string",
                false,
                "running: the version run; fix-installed: the fix installed; accept-risk: why; close: what was done; false-positive: why; not-affected: component_not_present, vulnerable_code_not_present, vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary, inline_mitigations_already_exist",
            ),
            ("until", "string", false, "accept-risk: expiry, RFC 3339"),
        ]),
        status: 200,
        response: Answer::Json(schema::<alerts::AlertAnswer>),
        handler: || axum::routing::post(alerts::act),
    },
    Route {
        method: "get",
        path: "/api/v1/sightings",
        operation_id: "listSightings",
        summary: "Sightings members reported",
        access: Access::Any,
        query: &[ORG],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<alerts::SightingList>),
        handler: || axum::routing::get(alerts::sightings),
    },
    Route {
        method: "post",
        path: "/api/v1/sightings",
        operation_id: "reportSightings",
        summary: "Report a hunt's sightings (a STIX 2.1 bundle from `ward hunt --report`): each thing sighted raises a possible-compromise alert (an incident)",
        access: Access::Roles(WRITERS),
        query: &[],
        body: Body::File("A STIX 2.1 bundle of sighting objects"),
        status: 201,
        response: Answer::Json(schema::<ward_store::ReportOutcome>),
        handler: || axum::routing::post(alerts::report_sightings),
    },
    Route {
        method: "get",
        path: "/api/v1/incidents/{id}",
        operation_id: "getIncident",
        summary: "An incident (a possible-compromise alert) with its sightings: time range, count, source addresses, assets, shared excerpts or line hashes",
        access: Access::Any,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<incidents::IncidentDetail>),
        handler: || axum::routing::get(incidents::show),
    },
    Route {
        method: "get",
        path: "/api/v1/campaigns",
        operation_id: "listCampaigns",
        summary: "The campaign view: per indicator or rule, which members sighted it, first and last seen, and each member's incident state",
        access: Access::Any,
        query: &[ORG],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<incidents::CampaignList>),
        handler: || axum::routing::get(incidents::campaigns),
    },
    Route {
        method: "post",
        path: "/api/v1/campaigns/publish",
        operation_id: "publishSightings",
        summary: "Publish the federation's sightings upward as STIX 2.1 sighting objects (with identity objects, named or pseudonymous) in a TAXII collection",
        access: Access::Roles(CENTRAL),
        query: &[],
        body: Body::Json(&[
            ("collection", "string", true, "The TAXII collection's id"),
            (
                "subjects",
                "array",
                false,
                "Only these indicators (STIX ids)",
            ),
            ("anonymise", "boolean", false, "Members by pseudonym"),
            (
                "skip_false_positives",
                "boolean",
                false,
                "Leave out false positives (default true)",
            ),
        ]),
        status: 201,
        response: Answer::Json(schema::<incidents::Published>),
        handler: || axum::routing::post(incidents::publish),
    },
    Route {
        method: "get",
        path: "/api/v1/footprint",
        operation_id: "listFootprint",
        summary: "Members' declared footprints (IP blocks, AS numbers, domains) with their state, and, for one member, its probe authorisation",
        access: Access::Any,
        query: &[ORG],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<exposure::FootprintList>),
        handler: || axum::routing::get(exposure::list),
    },
    Route {
        method: "post",
        path: "/api/v1/footprint",
        operation_id: "claimFootprint",
        summary: "Claim an IP block, AS number or domain: a member admin proposes it, a central admin sets it (approved); a claim another member holds is refused",
        access: Access::Roles(&["central-admin", "member-admin"]),
        query: &[],
        body: Body::Json(&[
            (
                "value",
                "string",
                true,
                "203.0.113.0/24, 2001:db8::/48, 198.51.100.7, AS64500 or trust.example",
            ),
            (
                "organisation",
                "string",
                false,
                "The member (central admins must name one)",
            ),
        ]),
        status: 201,
        response: Answer::Json(schema::<exposure::FootprintAnswer>),
        handler: || axum::routing::post(exposure::claim),
    },
    Route {
        method: "post",
        path: "/api/v1/footprint/{id}/decision",
        operation_id: "decideFootprint",
        summary: "Approve or reject a proposed footprint entry (central admin), or withdraw one (an admin)",
        access: Access::Roles(&["central-admin", "member-admin"]),
        query: &[],
        body: Body::Json(&[
            ("decision", "string", true, "approve, reject or withdraw"),
            ("reason", "string", false, "Why (required to reject)"),
        ]),
        status: 200,
        response: Answer::Json(schema::<exposure::FootprintAnswer>),
        handler: || axum::routing::post(exposure::decide),
    },
    Route {
        method: "put",
        path: "/api/v1/probe-consent",
        operation_id: "setProbeConsent",
        summary: "The member's own admin authorises (or stops) the central team's probes of its approved ranges",
        access: Access::Roles(&["member-admin"]),
        query: &[],
        body: Body::Json(&[(
            "consent",
            "boolean",
            true,
            "true to authorise, false to stop",
        )]),
        status: 200,
        response: Answer::Json(schema::<exposure::FootprintList>),
        handler: || axum::routing::put(exposure::consent),
    },
    Route {
        method: "post",
        path: "/api/v1/observations",
        operation_id: "importObservations",
        summary: "Import a scan report (Shadowserver CSV, nmap XML with -sV, Ward's observation CSV): observations attributed to members by their approved footprints, observed assets matched and alerted",
        access: Access::Roles(&["central-admin", "central-analyst"]),
        query: &[
            (
                "source",
                "Who saw it (shadowserver, nmap, …) when the file does not say",
            ),
            ("filename", "The file's name, for messages"),
        ],
        body: Body::File("The scan report"),
        status: 201,
        response: Answer::Json(schema::<crate::exposure::ObservationImport>),
        handler: || axum::routing::post(exposure::import),
    },
    Route {
        method: "get",
        path: "/api/v1/observations",
        operation_id: "listObservations",
        summary: "Observations of members' services, newest first; attributed=false: those no member's footprint holds (central roles)",
        access: Access::Any,
        query: &[
            ORG,
            (
                "attributed",
                "false: the unattributed observations (central roles)",
            ),
            ("limit", "At most this many (default 500, at most 10000)"),
        ],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<exposure::ObservationList>),
        handler: || axum::routing::get(exposure::observations),
    },
    Route {
        method: "get",
        path: "/api/v1/exposure",
        operation_id: "exposureSummary",
        summary: "Per member: services seen from the internet, observed assets and the vulnerable ones, the age of the data; declared assets observations contradict",
        access: Access::Any,
        query: &[ORG],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<exposure::ExposureSummary>),
        handler: || axum::routing::get(exposure::summary),
    },
    Route {
        method: "post",
        path: "/api/v1/probes",
        operation_id: "planProbe",
        summary: "A probe's plan: refused unless the member's admin authorised probing; the member's approved ranges (the only addresses the probe may touch), audited before it runs",
        access: Access::Roles(&["central-admin", "central-analyst"]),
        query: &[],
        body: Body::Json(&[
            ("organisation", "string", true, "The member"),
            ("ports", "array", true, "TCP ports (1 to 64)"),
            (
                "fingerprints",
                "array",
                false,
                "The fingerprints' ids, for the audit log",
            ),
        ]),
        status: 201,
        response: Answer::Json(schema::<exposure::ProbePlan>),
        handler: || axum::routing::post(exposure::plan),
    },
    Route {
        method: "get",
        path: "/taxii2/",
        operation_id: "taxiiDiscovery",
        summary: "TAXII 2.1 discovery (application/taxii+json;version=2.1)",
        access: Access::Any,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<taxii::Discovery>),
        handler: || axum::routing::get(taxii::discovery),
    },
    Route {
        method: "get",
        path: "/taxii2/api/",
        operation_id: "taxiiApiRoot",
        summary: "TAXII 2.1 API root",
        access: Access::Any,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<taxii::ApiRootInfo>),
        handler: || axum::routing::get(taxii::api_root),
    },
    Route {
        method: "get",
        path: "/taxii2/api/collections/",
        operation_id: "taxiiCollections",
        summary: "TAXII 2.1 collections the caller may read (central roles: all; members: those open to every member or naming them)",
        access: Access::Any,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<taxii::Collections>),
        handler: || axum::routing::get(taxii::collections),
    },
    Route {
        method: "get",
        path: "/taxii2/api/collections/{id}/",
        operation_id: "taxiiCollection",
        summary: "One TAXII 2.1 collection (404 for one the caller may not read)",
        access: Access::Any,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<taxii::TaxiiCollection>),
        handler: || axum::routing::get(taxii::collection),
    },
    Route {
        method: "get",
        path: "/taxii2/api/collections/{id}/objects/",
        operation_id: "taxiiObjects",
        summary: "A page of a collection's STIX objects, oldest first, in an envelope; X-TAXII-Date-Added-First/Last",
        access: Access::Any,
        query: &[
            (
                "added_after",
                "only objects added after this time (RFC 3339)",
            ),
            ("limit", "objects per page (at most 1,000; 100 by default)"),
            ("next", "the page after the one that gave this `next`"),
            ("match[type]", "STIX types, comma-separated"),
            ("match[id]", "STIX ids, comma-separated"),
        ],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<taxii::Envelope>),
        handler: || axum::routing::get(taxii::objects),
    },
    Route {
        method: "get",
        path: "/taxii2/api/collections/{id}/manifest/",
        operation_id: "taxiiManifest",
        summary: "A page of a collection's manifest (id, date added, version, media type)",
        access: Access::Any,
        query: &[
            (
                "added_after",
                "only objects added after this time (RFC 3339)",
            ),
            ("limit", "records per page (at most 1,000)"),
            ("next", "the page after the one that gave this `next`"),
            ("match[type]", "STIX types, comma-separated"),
            ("match[id]", "STIX ids, comma-separated"),
        ],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<taxii::Manifest>),
        handler: || axum::routing::get(taxii::manifest),
    },
    Route {
        method: "post",
        path: "/api/v1/taxii/collections",
        operation_id: "createTaxiiCollection",
        summary: "Create a TAXII collection members pull from (readers: [\"*\"] for every member, or slugs)",
        access: Access::Roles(CENTRAL),
        query: &[],
        body: Body::Json(&[
            ("title", "string", true, "the collection's title"),
            ("description", "string", false, "what it holds"),
            (
                "readers",
                "array",
                false,
                "[\"*\"] (default) or members' slugs",
            ),
        ]),
        status: 201,
        response: Answer::Json(schema::<taxii::CollectionAnswer>),
        handler: || axum::routing::post(taxii::create_collection),
    },
    Route {
        method: "post",
        path: "/api/v1/taxii/collections/{id}/objects",
        operation_id: "addTaxiiObjects",
        summary: "Add a STIX 2.1 bundle's objects to a collection (indicators; Sigma rules as indicators with pattern_type sigma); an object already held (same id and version) is not added again",
        access: Access::Roles(CENTRAL),
        query: &[],
        body: Body::File("A STIX 2.1 bundle"),
        status: 201,
        response: Answer::Json(schema::<ward_store::taxii::AddedObjects>),
        handler: || axum::routing::post(taxii::add_objects),
    },
    Route {
        method: "get",
        path: "/api/v1/vex",
        operation_id: "exportVex",
        summary: "The VEX statements within the scope as one document: each member's decisions on its alerts (not affected with the justification, fixed, affected with what is being done), its uploaded statements and the central team's",
        access: Access::Any,
        query: &[
            ORG,
            (
                "format",
                "`openvex` (default), `cyclonedx` (CycloneDX 1.5 VEX) or `csaf` (CSAF 2.0 csaf_vex)",
            ),
        ],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<vex::VexExport>),
        handler: || axum::routing::get(vex::export),
    },
    Route {
        method: "post",
        path: "/api/v1/vex",
        operation_id: "uploadVex",
        summary: "Upload a VEX document (OpenVEX 0.2, CycloneDX VEX, CSAF 2.0) for the caller's organisation, or, from a central role naming no member, for every member: matching applies its statements (cleared findings are resolved naming the statement)",
        access: Access::Roles(WRITERS),
        query: &[ORG],
        body: Body::File("A VEX document"),
        status: 201,
        response: Answer::Json(schema::<vex::Published>),
        handler: || axum::routing::post(vex::upload),
    },
    Route {
        method: "get",
        path: "/api/v1/vex/statements",
        operation_id: "listVexStatements",
        summary: "VEX statements within the scope: a member's own and the central team's (revoked ones with `revoked=true`)",
        access: Access::Any,
        query: &[
            ORG,
            ("revoked", "`true`: revoked and superseded statements too"),
        ],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<vex::StatementList>),
        handler: || axum::routing::get(vex::list),
    },
    Route {
        method: "post",
        path: "/api/v1/vex/statements",
        operation_id: "publishVexStatement",
        summary: "Publish a statement for a vulnerability and a product scope: central roles for every member (or one, `organisation`), members for their own; not affected under a condition, a mitigation or workaround, a recommended deadline; `supersedes` makes it the next version of one",
        access: Access::Roles(WRITERS),
        query: &[],
        body: Body::Json(&[
            ("vulnerability", "string", true, "CVE or advisory id"),
            (
                "products",
                "array",
                false,
                "purls or CPEs; empty: every product it is found in",
            ),
            (
                "status",
                "string",
                true,
                "not_affected, affected, fixed, under_investigation",
            ),
            (
                "justification",
                "string",
                false,
                "a VEX justification (not_affected)",
            ),
            ("impact", "string", false, "the condition or impact"),
            ("action", "string", false, "what to do"),
            (
                "action_category",
                "string",
                false,
                "mitigation, workaround or vendor_fix",
            ),
            (
                "remediate_by",
                "string",
                false,
                "a recommended deadline (RFC 3339)",
            ),
            ("references", "array", false, "web addresses"),
            (
                "supersedes",
                "integer",
                false,
                "the statement this one replaces",
            ),
            (
                "organisation",
                "string",
                false,
                "central roles: one member only (slug)",
            ),
        ]),
        status: 201,
        response: Answer::Json(schema::<vex::Published>),
        handler: || axum::routing::post(vex::create),
    },
    Route {
        method: "post",
        path: "/api/v1/vex/statements/{id}/revoke",
        operation_id: "revokeVexStatement",
        summary: "Revoke a statement (kept, with when and by whom); what it cleared is matched again",
        access: Access::Roles(WRITERS),
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<vex::Published>),
        handler: || axum::routing::post(vex::revoke),
    },
    Route {
        method: "get",
        path: "/api/v1/channels",
        operation_id: "listChannels",
        summary: "Notification channels (secrets never returned)",
        access: Access::Any,
        query: &[ORG],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<organisations::ChannelList>),
        handler: || axum::routing::get(organisations::channels),
    },
    Route {
        method: "post",
        path: "/api/v1/channels",
        operation_id: "addChannel",
        summary: "Add a webhook (HMAC-SHA256 signed), syslog (RFC 5424, udp:// or tcp://) or e-mail (the server's SMTP relay) channel",
        access: Access::Roles(&["central-admin", "member-admin"]),
        query: &[],
        body: Body::Json(&[
            ("kind", "string", true, "webhook, syslog or email"),
            (
                "target",
                "string",
                true,
                "URL, udp://host:port / tcp://host:port, or one e-mail address",
            ),
            (
                "secret",
                "string",
                false,
                "Webhooks: the signing key (16+ characters)",
            ),
            (
                "organisation",
                "string",
                false,
                "Central admin: a member's slug",
            ),
        ]),
        status: 201,
        response: Answer::Json(schema::<organisations::ChannelAnswer>),
        handler: || axum::routing::post(organisations::add_channel),
    },
    Route {
        method: "get",
        path: "/api/v1/compliance/alerts",
        operation_id: "complianceAlerts",
        summary: "Per vulnerability alert: members acknowledged and remediated within deadlines",
        access: Access::Any,
        query: &[ORG, ("format", "json or csv")],
        body: Body::None,
        status: 200,
        response: Answer::JsonOrCsv(schema::<reports::AlertComplianceReport>),
        handler: || axum::routing::get(reports::compliance_alerts),
    },
    Route {
        method: "get",
        path: "/api/v1/compliance/members",
        operation_id: "complianceMembers",
        summary: "Per member and month: a scorecard",
        access: Access::Any,
        query: &[ORG, ("format", "json or csv")],
        body: Body::None,
        status: 200,
        response: Answer::JsonOrCsv(schema::<reports::MemberReport>),
        handler: || axum::routing::get(reports::compliance_members),
    },
    Route {
        method: "get",
        path: "/api/v1/knowledge/bundles/latest",
        operation_id: "latestBundle",
        summary: "The newest offline knowledge bundle (`ward serve --bundle-dir`): a signed .tar.gz that members without internet access import with `ward db import FILE --verify-key KEY`",
        access: Access::Any,
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Gzip,
        handler: || axum::routing::get(knowledge::latest_bundle),
    },
    Route {
        method: "get",
        path: "/api/v1/feeds",
        operation_id: "listFeeds",
        summary: "Each feed source's freshness: last success and error, cursor, lag, next run, whether it is behind",
        access: Access::Roles(&["central-admin", "central-analyst"]),
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<knowledge::FeedList>),
        handler: || axum::routing::get(knowledge::feeds),
    },
    Route {
        method: "get",
        path: "/api/v1/audit",
        operation_id: "auditLog",
        summary: "The hash-chained audit log",
        access: Access::Roles(&["central-admin"]),
        query: &[],
        body: Body::None,
        status: 200,
        response: Answer::Json(schema::<alerts::AuditEntries>),
        handler: || axum::routing::get(alerts::audit),
    },
];

/// A success's response object.
fn success(answer: Answer, generator: &mut SchemaGenerator) -> Value {
    let json_of = |schema: Schema| json!({"schema": schema});
    match answer {
        Answer::Empty => json!({"description": "Success, no body"}),
        Answer::Json(schema) => json!({
            "description": "Success",
            "content": {"application/json": json_of(schema(generator))}
        }),
        Answer::Gzip => json!({
            "description": "Success: the file",
            "content": {"application/gzip": {"schema": {"type": "string", "contentMediaType": "application/gzip"}}}
        }),
        Answer::JsonOrCsv(schema) => json!({
            "description": "Success: JSON, or with `format=csv` the rows as CSV (a header line of field names)",
            "content": {
                "application/json": json_of(schema(generator)),
                "text/csv": {"schema": {"type": "string"}}
            }
        }),
    }
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// The document.
pub fn document() -> Value {
    // Schemas of JSON Schema 2020-12 (OpenAPI 3.1's dialect), shared ones in components.
    let mut generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let mut paths = Map::new();
    for r in ROUTES {
        let mut parameters: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({
                    "name": name, "in": "path", "required": true,
                    "schema": if name == "id" { json!({"type": "integer"}) } else { json!({"type": "string"}) }
                })
            })
            .collect();
        parameters.extend(r.query.iter().map(|(name, description)| {
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
        }));
        let mut op = json!({
            "operationId": r.operation_id,
            "summary": r.summary,
            "parameters": parameters,
            "responses": {
                r.status.to_string(): success(r.response, &mut generator),
                "400": error_response("Malformed request: the message names the field"),
            },
        });
        let responses = op["responses"].as_object_mut().expect("object");
        match r.access {
            Access::Public => {
                op["security"] = json!([]);
            }
            Access::Any | Access::Roles(_) => {
                responses.insert("401".into(), error_response("No valid token or session"));
                responses.insert(
                    "403".into(),
                    error_response(
                        "The role may not, or another organisation's data, or a missing CSRF token",
                    ),
                );
                responses.insert(
                    "404".into(),
                    error_response("No such thing within the caller's scope"),
                );
            }
        }
        if let Access::Roles(roles) = r.access {
            op["x-ward-roles"] = json!(roles);
        }
        match r.body {
            Body::None => {}
            Body::Json(fields) => {
                let properties: Map<String, Value> = fields
                    .iter()
                    .map(|(name, ty, _, description)| {
                        let schema = if *ty == "array" {
                            json!({"type": "array", "items": {"type": "string"}, "description": description})
                        } else {
                            json!({"type": ty, "description": description})
                        };
                        ((*name).to_owned(), schema)
                    })
                    .collect();
                let required: Vec<&str> = fields.iter().filter(|f| f.2).map(|f| f.0).collect();
                op["requestBody"] = json!({
                    "required": !required.is_empty(),
                    "content": {"application/json": {"schema": {"type": "object", "properties": properties, "required": required}}}
                });
            }
            Body::File(description) => {
                op["requestBody"] = json!({
                    "required": true,
                    "description": description,
                    "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}
                });
            }
        }
        paths
            .entry(r.path.to_owned())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("object")
            .insert(r.method.to_owned(), op);
    }
    let mut schemas = generator.take_definitions(true);
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Ward",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Vulnerability alerts for a federation of organisations: members, inventories, continuous matching, alerts with deadlines, sightings, audit."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`ward admin token create`)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "ward_session", "description": "A browser session; unsafe requests also need the X-CSRF-Token header"}
            },
            "schemas": schemas,
        }
    })
}
