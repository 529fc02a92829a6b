//! The OpenAPI document as a snapshot: a change to any route, parameter or response body shows
//! in the diff of `tests/snapshots/openapi__document.snap` (accept a deliberate one with
//! `INSTA_UPDATE=always cargo test -p ward-server --test openapi`).

#[test]
fn document() {
    insta::assert_json_snapshot!(ward_server::openapi::document());
}

/// Every success body is described by a schema from the handler's own type: no operation
/// answers "some object".
#[test]
fn every_json_response_has_a_typed_schema() {
    let doc = ward_server::openapi::document();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('2') || path == "/api/v1/openapi.json" {
                    continue;
                }
                // A file (an offline bundle) is described by its media type.
                if response["content"]["application/gzip"].is_object() {
                    continue;
                }
                let Some(schema) = response["content"]["application/json"]["schema"].as_object()
                else {
                    assert_eq!(status, "204", "{method} {path}: a success without a body");
                    continue;
                };
                let name = schema["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    .unwrap_or_else(|| panic!("{method} {path}: {schema:?} is not a named schema"));
                let described = &schemas[name];
                assert_eq!(described["type"], "object", "{method} {path}: {name}");
                assert!(
                    described["properties"]
                        .as_object()
                        .is_some_and(|p| !p.is_empty()),
                    "{method} {path}: {name} names no properties"
                );
            }
        }
    }
    // The row types the bodies carry are described field by field.
    for name in [
        "AlertRow",
        "AssetRow",
        "FindingRow",
        "Organisation",
        "Channel",
    ] {
        assert!(
            schemas[name]["properties"]
                .as_object()
                .is_some_and(|p| p.len() > 3),
            "{name}: {}",
            schemas[name]
        );
    }
    assert_eq!(
        schemas["AlertState"]["enum"],
        serde_json::json!([
            "open",
            "acknowledged",
            "remediated",
            "risk-accepted",
            "not-affected",
            "withdrawn",
            "triaged",
            "confirmed",
            "contained",
            "closed",
            "false-positive"
        ])
    );
}
