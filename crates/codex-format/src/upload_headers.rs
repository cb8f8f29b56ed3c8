//! The node's checks on upload headers (spec 2.2): `Content-Type` must be an
//! exact MIME string from its table, and the `Content-Disposition` filename is
//! parsed the quirky Codex way and must be a valid file name. Failures are 422.

/// MIME types the devnode accepts. A real node accepts every value of Nim's
/// `std/mimetypes` table; this is the subset of common IANA types clients
/// actually send, so the devnode is stricter, never laxer. Parameters such as
/// `; charset=utf-8` are not stripped, as on the real node.
const MIME_TYPES: &[&str] = &[
    "application/octet-stream",
    "application/json",
    "application/xml",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/x-tar",
    "application/x-bzip2",
    "application/x-7z-compressed",
    "application/javascript",
    "application/wasm",
    "application/msword",
    "application/rtf",
    "application/ogg",
    "application/x-protobuf",
    "application/x-sh",
    "application/xhtml+xml",
    "application/vnd.ms-excel",
    "application/epub+zip",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "audio/flac",
    "audio/aac",
    "font/woff",
    "font/woff2",
    "font/ttf",
    "font/otf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/svg+xml",
    "image/bmp",
    "image/tiff",
    "image/x-icon",
    "image/avif",
    "text/plain",
    "text/html",
    "text/css",
    "text/csv",
    "text/markdown",
    "text/xml",
    "text/javascript",
    "text/calendar",
    "video/mp4",
    "video/mpeg",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "video/x-msvideo",
];

/// 2026 limit on the stored mimetype (`MaxMimetypeSize`).
const MAX_MIME_LEN: usize = 128;
/// 2026 limit on the filename (`MaxFilenameSize`).
const MAX_FILENAME_LEN: usize = 255;

/// The mimetype to record, or the 422 message.
pub fn check_mimetype(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > MAX_MIME_LEN {
        return Err(format!(
            "Mimetype exceeds maximum size of {MAX_MIME_LEN} bytes"
        ));
    }
    if MIME_TYPES.iter().any(|m| m.eq_ignore_ascii_case(value)) {
        Ok(Some(value.to_string()))
    } else {
        Err(format!("The MIME type '{value}' is not valid."))
    }
}

/// The filename to record from a `Content-Disposition` value, or the 422
/// message. As in Codex ≤ 2025: only `filename="` counts, and the name is the
/// rest of the header, trimmed, minus its last character (meant to be the
/// closing quote). So `filename=x` is ignored and `filename="a"; size=3`
/// yields the invalid `a"; size=`.
pub fn filename_from_disposition(value: &str) -> Result<Option<String>, String> {
    const KEY: &str = "filename=\"";
    let Some(at) = value.find(KEY) else {
        return Ok(None);
    };
    let rest = value[at + KEY.len()..].trim();
    // The real node can crash on an empty value (PR #1509); refusing is kinder.
    let mut chars = rest.chars();
    chars.next_back();
    let name = chars.as_str();
    if !is_valid_filename(name) {
        return Err("The filename is not valid.".into());
    }
    if name.len() > MAX_FILENAME_LEN {
        return Err(format!(
            "Filename exceeds maximum size of {MAX_FILENAME_LEN} bytes"
        ));
    }
    Ok(Some(name.to_string()))
}

/// Nim's `os.isValidFilename`, which the node applies: no empty name, no
/// leading or trailing space, no trailing dot, none of `/\:*?"<>|^` or NUL,
/// no Windows device name (with or without an extension), at most 259 bytes.
pub fn is_valid_filename(name: &str) -> bool {
    const INVALID: &[char] = &['/', '\\', ':', '*', '?', '"', '<', '>', '|', '^', '\0'];
    const RESERVED: &[&str] = &["CON", "PRN", "AUX", "NUL"];
    if name.is_empty() || name.len() > 259 {
        return false;
    }
    if name.starts_with(' ') || name.ends_with(' ') || name.ends_with('.') {
        return false;
    }
    if name.contains(INVALID) {
        return false;
    }
    let stem = name.split('.').next().unwrap_or(name).to_ascii_uppercase();
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix)
            .is_some_and(|d| d.len() == 1 && matches!(d.as_bytes()[0], b'1'..=b'9'))
    };
    !(RESERVED.contains(&stem.as_str()) || numbered("COM") || numbered("LPT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mimetypes_match_exactly() {
        assert_eq!(
            check_mimetype("text/plain").unwrap().as_deref(),
            Some("text/plain")
        );
        assert_eq!(check_mimetype("").unwrap(), None);
        assert!(
            check_mimetype("hello/world")
                .unwrap_err()
                .contains("'hello/world'")
        );
        assert!(check_mimetype("text/plain; charset=utf-8").is_err());
        assert!(check_mimetype("multipart/form-data; boundary=x").is_err());
        assert!(check_mimetype("application/x-www-form-urlencoded").is_err());
    }

    #[test]
    fn filenames_follow_the_codex_parser() {
        let f = filename_from_disposition;
        assert_eq!(
            f(r#"attachment; filename="a.txt""#).unwrap().as_deref(),
            Some("a.txt")
        );
        assert_eq!(f("attachment; filename=a.txt").unwrap(), None);
        assert_eq!(f("attachment").unwrap(), None);
        assert!(f(r#"attachment; filename="a"; size=3"#).is_err());
        assert!(f(r#"filename="exam*ple.txt""#).is_err());
        assert!(f(r#"filename="""#).is_err());
        assert!(f(r#"filename=""#).is_err());
        for bad in ["CON", "com1.txt", "lpt9", "a.", " a", "a|b"] {
            assert!(!is_valid_filename(bad), "{bad}");
        }
        for good in ["COM0", "console.txt", "archive-data.bin"] {
            assert!(is_valid_filename(good), "{good}");
        }
    }
}
