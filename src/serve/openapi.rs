//! `GET /v1/openapi.json`: the API described in OpenAPI 3.1, written by
//! hand in `openapi.json` next to this file. The tests below keep it true:
//! every route of the router is in it, its examples decide as it says, and
//! the service's real answers fit its schemas.

use axum::response::Response;

use super::api::json_response;

/// The document, as served.
pub(crate) const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /v1/openapi.json`.
pub(crate) async fn document() -> Response {
    json_response(DOCUMENT.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Method, Request};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::DOCUMENT;
    use crate::serve::{router, Config, Snapshot, Sources};

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    /// The method and path of every `.route(...)` in the router's source.
    fn routes() -> Vec<(String, String)> {
        let source = include_str!("mod.rs");
        let mut out = Vec::new();
        for piece in source.split(".route(\"").skip(1) {
            let (path, rest) = piece.split_once('"').unwrap();
            let handlers = rest.split_once(")\n").map_or(rest, |(h, _)| h);
            for method in ["get", "post", "put", "delete", "patch"] {
                if handlers.contains(&format!("{method}(")) {
                    out.push((method.to_owned(), path.to_owned()));
                }
            }
        }
        out
    }

    /// Sends a request to the router over the glow world; status and JSON body.
    fn call(method: Method, uri: &str, body: &Value) -> (u16, Value) {
        let sources = Sources {
            rules: None,
            world: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/glow-world.yaml").into()),
        };
        let config = Config {
            timeout: Duration::from_secs(30),
            sources: sources.clone(),
            ..Config::default()
        };
        let snapshot = Snapshot::load(&sources).unwrap();
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        let req = Request::builder().method(method).uri(uri).body(body).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let resp = router(&config, snapshot).oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
            (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        })
    }

    /// What keeps `instance` from fitting the component schema `name`, its
    /// references resolved in the whole document.
    fn misfits(name: &str, instance: &Value) -> Vec<String> {
        let mut schema = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/components/schemas/{name}"),
        });
        schema["components"] = doc()["components"].clone();
        let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn fits(name: &str, instance: &Value) {
        let errors = misfits(name, instance);
        assert!(errors.is_empty(), "{instance} does not fit {name}: {errors:#?}");
    }

    #[test]
    fn the_document_is_openapi_3_1_of_this_version() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let (status, served) = call(Method::GET, "/v1/openapi.json", &Value::Null);
        assert_eq!((status, served), (200, doc));
    }

    #[test]
    fn every_route_of_the_router_is_in_the_document_with_its_method() {
        let doc = doc();
        let routes = routes();
        for known in [
            "/v1/inbound",
            "/v1/outbound",
            "/v1/rules",
            "/v1/status",
            "/healthz",
            "/readyz",
            "/v1/openapi.json",
        ] {
            assert!(
                routes.iter().any(|(_, p)| p == known),
                "{known} not found in the router's source: {routes:?}"
            );
        }
        for (method, path) in &routes {
            assert!(
                doc["paths"][path][method].is_object(),
                "{} {path} is not in openapi.json",
                method.to_uppercase()
            );
        }
    }

    #[test]
    fn every_request_example_decides_as_its_response_example_says_and_fits_the_schemas() {
        let doc = doc();
        let mut tried = 0;
        for path in ["/v1/inbound", "/v1/outbound"] {
            let op = &doc["paths"][path]["post"];
            let request_schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap();
            let response_schema = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap();
            let examples = op["requestBody"]["content"]["application/json"]["examples"]
                .as_object()
                .unwrap();
            for (name, example) in examples {
                let request = &example["value"];
                fits(request_schema, request);
                let (status, answer) = call(Method::POST, path, request);
                assert_eq!(status, 200, "{path} {name}: {answer}");
                fits(response_schema, &answer);
                let expected = &op["responses"]["200"]["content"]["application/json"]["examples"][name]["value"];
                let expected = expected
                    .as_object()
                    .unwrap_or_else(|| panic!("no answer example {name} for {path}"));
                for (key, value) in expected {
                    // The versions change with every edit of the rules.
                    if key != "rule_set" && key != "world_version" {
                        assert_eq!(&answer[key], value, "{path} {name}: `{key}`");
                    }
                }
                let (_, explained) = call(Method::POST, &format!("{path}?explain=true"), request);
                fits(response_schema, &explained);
                assert!(explained["trace"].is_array());
                tried += 1;
            }
        }
        assert_eq!(tried, 3);
    }

    #[test]
    fn the_read_only_answers_and_the_errors_fit_the_schemas() {
        fits("Status", &call(Method::GET, "/v1/status", &Value::Null).1);
        fits("Rules", &call(Method::GET, "/v1/rules", &Value::Null).1);
        fits("Health", &call(Method::GET, "/healthz", &Value::Null).1);
        fits("Health", &call(Method::GET, "/readyz", &Value::Null).1);
        let doc = doc();
        let (status, bad) = call(Method::POST, "/v1/inbound", &serde_json::json!({"client": 3}));
        assert_eq!(status, 400);
        fits("Error", &bad);
        let example = &doc["components"]["responses"]["BadRequest"]["content"]["application/json"]["example"];
        assert_eq!(&bad, example, "the 400 example is the real answer");
        let (status, unknown) = call(Method::POST, "/v1/inbound", &serde_json::json!({"client": "cleoo"}));
        assert_eq!(status, 422);
        let example = &doc["components"]["responses"]["Unprocessable"]["content"]["application/json"]["example"];
        assert_eq!(&unknown, example, "the 422 example is the real answer");
        for (method, path) in [(Method::GET, "/v1/nope"), (Method::DELETE, "/v1/inbound")] {
            fits("Error", &call(method, path, &Value::Null).1);
        }
        // Not vacuous: what the schemas forbid is caught.
        let mut no_message = bad.clone();
        no_message.as_object_mut().unwrap().remove("message");
        assert_eq!(misfits("Error", &no_message).len(), 1);
        let (_, mut decision) = call(Method::POST, "/v1/inbound", &serde_json::json!({"client": "cleo"}));
        decision["rule_set"] = "not hex".into();
        assert_eq!(misfits("InboundDecision", &decision).len(), 1, "{decision}");
    }
}
