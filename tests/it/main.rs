//! The integration tests: one binary (faster to build and link than one per file).
//!
//! - `support`: a real server on 127.0.0.1:0 over a snapshot built from generated permits.
//! - `http`: the resolver's routes through a real HTTP client.
//! - `openapi`: the OpenAPI document and the routes stay in step.
//! - `trust`: signed QR scans (genuine, forged), attestations, the key set, the served PNG.
//! - `cli`: the `permitd` binary's commands, exit codes and files.
//! - `browser`: the citizen page of `/q/` in headless Chromium, phone-sized, with screenshots.

mod browser;
mod cli;
mod http;
mod images;
mod openapi;
mod support;
mod trust;
mod writer;
