//! Every JSON body and status code the devnode gives, checked against the
//! node's own `openapi.yaml` (kept in `docs/spec/codex/`, with its provenance
//! in `docs/spec/codex-api.md`): the schema is parsed here, never copied.

use reqwest::{Method, Response, header};
use serde_json::Value;

use crate::TestNode;

fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/spec/codex/openapi.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).expect("the openapi file parses")
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").expect("local $ref");
            resolve(spec, &spec["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Checks `value` against `schema`: types, `nullable`, `enum`, `required`,
/// recursively through properties and items. Extra properties are allowed,
/// as the schema does not forbid them.
fn validate(spec: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = resolve(spec, schema);
    if value.is_null() {
        assert!(
            schema["nullable"] == true,
            "{at}: null where the schema is not nullable"
        );
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        assert!(options.contains(value), "{at}: {value} not in {options:?}");
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let object = value
                .as_object()
                .unwrap_or_else(|| panic!("{at}: {value} is not an object"));
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                assert!(
                    object.contains_key(name),
                    "{at}: required `{name}` missing in {value}"
                );
            }
            if let Some(properties) = schema["properties"].as_object() {
                for (name, sub) in properties {
                    if let Some(v) = object.get(name) {
                        validate(spec, sub, v, &format!("{at}.{name}"));
                    }
                }
            }
        }
        Some("array") => {
            let items = value
                .as_array()
                .unwrap_or_else(|| panic!("{at}: {value} is not an array"));
            for (i, item) in items.iter().enumerate() {
                validate(spec, &schema["items"], item, &format!("{at}[{i}]"));
            }
        }
        Some("string") => assert!(value.is_string(), "{at}: {value} is not a string"),
        Some("integer") => assert!(
            value.is_u64() || value.is_i64(),
            "{at}: {value} is not an integer"
        ),
        Some("boolean") => assert!(value.is_boolean(), "{at}: {value} is not a boolean"),
        _ => {}
    }
}

/// Asserts that the spec documents `status` for `method path` and that the
/// body fits the documented content type and schema.
async fn conforms(spec: &Value, method: &str, path: &str, response: Response) {
    let status = response.status().as_u16().to_string();
    let documented = &spec["paths"][path][method]["responses"][&status];
    assert!(
        !documented.is_null(),
        "{method} {path}: status {status} is not in the openapi file"
    );
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.bytes().await.unwrap();
    let Some(content) = documented.get("content").and_then(Value::as_object) else {
        return;
    };
    let content_type = content_type.unwrap_or_else(|| panic!("{method} {path}: no Content-Type"));
    let media = content.get(&content_type).unwrap_or_else(|| {
        panic!(
            "{method} {path}: {content_type} not among {:?}",
            content.keys()
        )
    });
    if content_type == "application/json" {
        let value: Value = serde_json::from_slice(&body).expect("JSON body");
        validate(spec, &media["schema"], &value, &format!("{method} {path}"));
    }
}

#[tokio::test]
async fn responses_match_the_openapi_file() {
    let spec = spec();
    let t = TestNode::start().await;
    let send = |method: Method, path: String| t.http.request(method, t.url(&path)).send();

    let r = t
        .http
        .post(t.url("/data"))
        .body("payload")
        .send()
        .await
        .unwrap();
    let cid = r.text().await.unwrap();
    let r = t
        .http
        .post(t.url("/data"))
        .body("payload")
        .send()
        .await
        .unwrap();
    conforms(&spec, "post", "/data", r).await;
    let r = t
        .http
        .post(t.url("/data"))
        .header(header::CONTENT_TYPE, "hello/world")
        .body("x")
        .send()
        .await
        .unwrap();
    conforms(&spec, "post", "/data", r).await;

    let cases = [
        (Method::GET, "get", "/data", "/data".to_string()),
        (Method::GET, "get", "/data/{cid}", format!("/data/{cid}")),
        (Method::GET, "get", "/data/{cid}", "/data/zzz".into()),
        (
            Method::GET,
            "get",
            "/data/{cid}/network/stream",
            format!("/data/{cid}/network/stream"),
        ),
        (
            Method::GET,
            "get",
            "/data/{cid}/network/manifest",
            format!("/data/{cid}/network/manifest"),
        ),
        (
            Method::POST,
            "post",
            "/data/{cid}/network",
            format!("/data/{cid}/network"),
        ),
        (
            Method::GET,
            "get",
            "/data/{cid}/exists",
            format!("/data/{cid}/exists"),
        ),
        (Method::GET, "get", "/space", "/space".into()),
        (Method::GET, "get", "/peerid", "/peerid".into()),
        (Method::GET, "get", "/spr", "/spr".into()),
        (Method::GET, "get", "/debug/info", "/debug/info".into()),
        (
            Method::DELETE,
            "delete",
            "/data/{cid}",
            format!("/data/{cid}"),
        ),
        (Method::GET, "get", "/data/{cid}", format!("/data/{cid}")),
        (
            Method::GET,
            "get",
            "/data/{cid}/network/manifest",
            format!("/data/{cid}/network/manifest"),
        ),
    ];
    for (method, name, template, path) in cases {
        let r = send(method, path).await.unwrap();
        conforms(&spec, name, template, r).await;
    }
    let r = t
        .http
        .get(t.url("/peerid"))
        .header(header::ACCEPT, "text/plain")
        .send()
        .await
        .unwrap();
    conforms(&spec, "get", "/peerid", r).await;
    t.stop().await;
}

#[test]
fn the_validator_catches_a_missing_required_property() {
    let spec = spec();
    let space = serde_json::json!({ "totalBlocks": 1, "quotaMaxBytes": 2, "quotaUsedBytes": 3 });
    let schema = serde_json::json!({ "$ref": "#/components/schemas/Space" });
    let caught = std::panic::catch_unwind(|| validate(&spec, &schema, &space, "space"));
    assert!(caught.is_err(), "quotaReservedBytes is required");
}
