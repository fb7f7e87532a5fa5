//! permit-load: a load tester for permitd, as a library so its parts can be tested one by one.
//!
//! The binary (`src/main.rs`) only parses flags and wires these modules together:
//!
//! | module | owns |
//! | --- | --- |
//! | [`limits`] | every bound the tool enforces |
//! | [`units`] | human durations (`10s`, `250ms`) in flags and output |
//! | [`number`] | the permit number format: MOD 37,36 check character, malformed/unknown variants |
//! | [`target`] | the `--url` and the loopback-only rule |
//! | [`http`] | the minimal HTTP/1.1 request writer, response parser and keep-alive client |
//! | [`resp`] | the Redis client of `--protocol redis`: `GET q/{number}`, the RESP reply parser |
//! | [`cpu`] | server and load-tester CPU time from `/proc/<pid>/stat` over the measurement |
//! | [`dataset`] | reading permit numbers out of a `permitd gen` NDJSON file |
//! | [`zipf`] | the seeded Zipf popularity sampler |
//! | [`workload`] | the `Workload` trait and the permit mix workload |
//! | [`schedule`] | open-loop intended send times |
//! | [`stats`] | per-connection recording (histograms, counts by kind/status/error) and merging |
//! | [`runner`] | connections, closed and open loops, warmup, progress bar |
//! | [`report`] | the JSON report and the text summary |
//! | [`chart`] | the SVG chart of one or several reports |
//! | [`toy_server`] | a tiny HTTP server for testing permit-load itself (not permitd) |

pub mod chart;
pub mod cpu;
pub mod dataset;
pub mod http;
pub mod limits;
pub mod number;
pub mod report;
pub mod resp;
pub mod runner;
pub mod schedule;
pub mod stats;
pub mod target;
pub mod toy_server;
pub mod units;
pub mod workload;
pub mod zipf;
