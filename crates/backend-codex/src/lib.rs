//! Codex / Logos Storage REST client and archive backend.
