//! Who may do what: the bearer token for mutating calls (kept 0600 in the
//! data folder, created once and reused across restarts so a script's copy
//! stays valid), and the `Host` check that keeps a web page elsewhere from
//! reading a loopback API through DNS rebinding.

use std::{
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use axum::http::{HeaderMap, StatusCode, header};

use crate::error::{ApiError, Error, Result};

/// The token file's name inside the data folder.
pub const TOKEN_FILE: &str = "api-token";

/// Reads the token at `path`, or creates it (32 random bytes as hex, mode
/// 0600, never over an existing file). A token file others can read is
/// refused rather than trusted.
pub(crate) fn load_or_create(path: &Path) -> Result<String> {
    let file_error = |message: String| Error::File {
        path: path.to_owned(),
        message,
    };
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Entropy(e.to_string()))?;
    let fresh = hex::encode(bytes);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(fresh.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| file_error(e.to_string()))?;
            return Ok(fresh);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(file_error(e.to_string())),
    }
    let mode = std::fs::metadata(path)
        .map_err(|e| file_error(e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(file_error(format!(
            "mode {:o} lets others read the API token; chmod 600 it or delete it \
             for a new one",
            mode & 0o777
        )));
    }
    let token = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let token = token.trim();
    if token.len() < 32 {
        return Err(file_error(
            "holds no token of at least 32 characters; delete it for a new one".to_owned(),
        ));
    }
    Ok(token.to_owned())
}

/// Whether `headers` carry `Authorization: Bearer <token>`, compared in
/// time independent of where the first difference lies.
pub(crate) fn check_bearer(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .as_bytes();
    let wanted = token.as_bytes();
    let same = given.len() == wanted.len()
        && given
            .iter()
            .zip(wanted)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!(
                "this call needs `Authorization: Bearer <token>`, the token in <data_dir>/{TOKEN_FILE}"
            ),
        ))
    }
}

/// Whether a request to a loopback API names a loopback host: a browser
/// tricked by DNS rebinding sends the attacker's name instead.
pub(crate) fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        // HTTP/1.1 requires Host; a request without one is no browser's.
        return true;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_token_is_created_once_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE);
        let token = load_or_create(&path).unwrap();
        assert_eq!(token.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(&path).unwrap(), token);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            load_or_create(&path).is_err(),
            "a readable token is refused"
        );
    }

    #[test]
    fn bearer_and_host_checks() {
        let mut headers = HeaderMap::new();
        assert!(check_bearer(&headers, "secret").is_err());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secreT"),
        );
        assert!(check_bearer(&headers, "secret").is_err());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        );
        assert!(check_bearer(&headers, "secret").is_ok());
        for (host, ok) in [
            ("127.0.0.1:8080", true),
            ("localhost:1", true),
            ("[::1]:9", true),
            ("evil.example:8080", false),
            ("10.0.0.1", false),
        ] {
            headers.insert(header::HOST, HeaderValue::from_static(host));
            assert_eq!(host_is_loopback(&headers), ok, "{host}");
        }
    }
}
