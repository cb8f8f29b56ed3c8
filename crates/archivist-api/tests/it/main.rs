//! The API against real nodes: an owner and a member in one process on
//! 127.0.0.1 (BitTorrent over loopback, announcements over an in-memory
//! hub), each serving its API; every response checked against
//! `openapi.yaml`, and the dashboard driven in headless Chromium.

mod api;
mod browser;
mod fixture;
mod openapi;
