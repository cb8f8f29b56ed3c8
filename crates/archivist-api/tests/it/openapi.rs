//! A focused check of responses against `openapi.yaml`: the operation and
//! status must be documented, the content type must match, and a JSON body
//! must fit its schema (types with `null`, `required`, `enum`, `oneOf`,
//! `items`, `$ref`, and no property the schema leaves out when it says
//! `additionalProperties: false`). It also remembers which operations the
//! tests reached, so an endpoint documented but never exercised fails.

use std::{collections::BTreeSet, sync::Mutex};

use serde_json::Value;

/// The parsed document, and the operations checked so far.
pub(crate) struct Spec {
    doc: Value,
    seen: Mutex<BTreeSet<(String, String)>>,
}

impl Spec {
    pub(crate) fn load() -> Spec {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        Spec {
            doc,
            seen: Mutex::default(),
        }
    }

    /// The documented path template `path` falls under.
    fn template(&self, path: &str) -> Option<String> {
        let wanted: Vec<&str> = path.split('/').collect();
        self.doc["paths"].as_object()?.keys().find_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            let fits = parts.len() == wanted.len()
                && parts
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| t == w || (t.starts_with('{') && t.ends_with('}')));
            fits.then(|| template.clone())
        })
    }

    /// Checks one response.
    pub(crate) fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: &str,
        body: &str,
    ) -> Result<(), String> {
        let template = self
            .template(path)
            .ok_or_else(|| format!("no path in the document matches {path}"))?;
        let operation = &self.doc["paths"][&template][method.to_ascii_lowercase()];
        if operation.is_null() {
            return Err(format!("{method} {template} is not documented"));
        }
        self.seen
            .lock()
            .unwrap()
            .insert((method.to_owned(), template.clone()));
        let response = self.resolve(&operation["responses"][status.to_string()]);
        if response.is_null() {
            return Err(format!("status {status} is not documented"));
        }
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let content = &response["content"];
        let documented = content
            .as_object()
            .map(|c| c.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        if !documented.iter().any(|d| d == media) {
            return Err(format!("content type {media:?}, documented {documented:?}"));
        }
        let schema = &content[media]["schema"];
        if schema.is_null() {
            return Ok(());
        }
        let value: Value =
            serde_json::from_str(body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let mut errors = Vec::new();
        self.validate(schema, &value, "$", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// The documented operations no check reached.
    pub(crate) fn unexercised(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        let mut missing = Vec::new();
        for (template, item) in self.doc["paths"].as_object().unwrap() {
            for method in ["get", "post", "put", "delete"] {
                let key = (method.to_ascii_uppercase(), template.clone());
                if !item[method].is_null() && !seen.contains(&key) {
                    missing.push(format!("{} {template}", key.0));
                }
            }
        }
        missing
    }

    fn resolve<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        while let Some(reference) = node["$ref"].as_str() {
            let pointer = reference.trim_start_matches('#');
            node = self.doc.pointer(pointer).unwrap_or(&Value::Null);
        }
        node
    }

    fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(choices) = schema["oneOf"].as_array() {
            let fitting = choices
                .iter()
                .filter(|choice| {
                    let mut inner = Vec::new();
                    self.validate(choice, value, at, &mut inner);
                    inner.is_empty()
                })
                .count();
            if fitting != 1 {
                errors.push(format!("{at}: fits {fitting} of oneOf's choices, not 1"));
            }
            return;
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| fits_type(t, value)) {
            errors.push(format!("{at}: {value} is not {types:?}"));
            return;
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !value.is_null()
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
        match value {
            Value::Object(object) => {
                let properties = schema["properties"].as_object();
                for required in schema["required"].as_array().into_iter().flatten() {
                    let name = required.as_str().unwrap_or_default();
                    if !object.contains_key(name) {
                        errors.push(format!("{at}: required {name:?} is missing"));
                    }
                }
                for (name, field) in object {
                    match properties.and_then(|p| p.get(name)) {
                        Some(property) => {
                            self.validate(property, field, &format!("{at}.{name}"), errors);
                        }
                        None if schema["additionalProperties"] == Value::Bool(false) => {
                            errors.push(format!("{at}: {name:?} is not documented"));
                        }
                        None => {}
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.validate(&schema["items"], item, &format!("{at}[{i}]"), errors);
                }
            }
            _ => {}
        }
    }
}

fn fits_type(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => false,
    }
}

/// The checker must fail on what it is there to catch.
#[test]
fn the_checker_catches_a_wrong_answer() {
    let spec = Spec::load();
    let ok = r#"{"code": "not-found", "message": "no"}"#;
    spec.check(
        "GET",
        "/api/v1/communities/0x02",
        404,
        "application/json",
        ok,
    )
    .unwrap();
    for (status, media, body) in [
        (
            404,
            "application/json",
            r#"{"code": "nope", "message": "no"}"#,
        ),
        (404, "application/json", r#"{"code": "not-found"}"#),
        (
            404,
            "application/json",
            r#"{"code": "not-found", "message": "no", "x": 1}"#,
        ),
        (418, "application/json", ok),
        (404, "text/plain", ok),
    ] {
        assert!(
            spec.check("GET", "/api/v1/communities/0x02", status, media, body)
                .is_err(),
            "{status} {media} {body}"
        );
    }
    assert!(
        spec.check("GET", "/api/v1/nothing", 200, "application/json", "{}")
            .is_err()
    );
    let download = r#"{"downloads": [{"community": "0x02", "network": "torrent", "state": "done",
        "archives_total": 1, "archives_downloaded": 1, "archives_imported": 1,
        "bytes_done": null, "bytes_total": null, "started_at": 1, "updated_at": 1}]}"#;
    let error = spec
        .check(
            "GET",
            "/api/v1/downloads",
            200,
            "application/json",
            download,
        )
        .unwrap_err();
    assert!(error.contains("state"), "{error}");
}
