//! A tiny keep-alive HTTP/1.1 server for testing permit-load itself — not permitd.
//!
//! It answers the routes the permit mix requests, by path alone: `GET /q/{number}` and
//! `GET /v1/permits/{number}` give 200 for a number it was given, 400 for a string that is not
//! a valid permit number, 404 for a valid number it does not know; any other path 404, any
//! other method 405. Every answer has a `Content-Length` body. It binds loopback addresses only.
//! The end-to-end tests run permit-load against it, and `permit-load toy-server` serves it for
//! trying the tool before a permitd build is at hand.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::number::PermitNo;

/// Longest request head the toy server reads.
const HEAD_BYTES_MAX: usize = 16 * 1024;
/// Largest request body it skips over.
const BODY_BYTES_MAX: usize = 1024 * 1024;

pub struct ToyServer {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl ToyServer {
    /// Binds `listen` (a loopback address; port 0 picks a free port) and serves `known`.
    pub async fn start(listen: SocketAddr, known: Vec<PermitNo>) -> std::io::Result<ToyServer> {
        if !listen.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the toy server binds loopback addresses only",
            ));
        }
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let known: Arc<HashSet<PermitNo>> = Arc::new(known.into_iter().collect());
        let requests = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            connections.spawn(serve(stream, Arc::clone(&known), Arc::clone(&counter)));
                        }
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(ToyServer {
            addr,
            requests,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }

    /// Runs until the task is aborted (by dropping the server) or the process ends.
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for ToyServer {
    fn drop(&mut self) {
        // Dropping the accept task's JoinSet aborts every connection task too.
        self.task.abort();
    }
}

/// The status and body for one request.
pub fn route(method: &[u8], path: &[u8], known: &HashSet<PermitNo>) -> (u16, String) {
    if method != b"GET" {
        return (405, r#"{"error":"method not allowed"}"#.to_owned());
    }
    let path = std::str::from_utf8(path).unwrap_or("");
    let path = path.split('?').next().unwrap_or("");
    let Some(number) = path
        .strip_prefix("/q/")
        .or_else(|| path.strip_prefix("/v1/permits/"))
    else {
        return (404, r#"{"error":"no such route"}"#.to_owned());
    };
    match PermitNo::parse(number) {
        Err(_) => (400, r#"{"error":"malformed permit number"}"#.to_owned()),
        Ok(n) if known.contains(&n) => (200, format!(r#"{{"number":"{n}","state":"valid"}}"#)),
        Ok(_) => (404, r#"{"error":"unknown permit"}"#.to_owned()),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "",
    }
}

async fn serve(mut stream: TcpStream, known: Arc<HashSet<PermitNo>>, requests: Arc<AtomicU64>) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(512);
    loop {
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            if buf.len() > HEAD_BYTES_MAX {
                return;
            }
            buf.reserve(4096);
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let head = &buf[..head_end];
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(|&b| b == b' ');
        let (method, path) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let mut body_len = 0usize;
        let mut close = false;
        for line in lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"content-length") {
                body_len = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
            } else if name.eq_ignore_ascii_case(b"connection") {
                close = value.eq_ignore_ascii_case(b"close");
            }
        }
        if body_len > BODY_BYTES_MAX {
            return;
        }
        let (status, body) = route(method, path, &known);
        let total = head_end + 4 + body_len;
        while buf.len() < total {
            buf.reserve(total - buf.len());
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        buf.drain(..total);
        out.clear();
        out.extend_from_slice(
            format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
                reason(status),
                body.len(),
                if close { "Connection: close\r\n" } else { "" }
            )
            .as_bytes(),
        );
        out.extend_from_slice(body.as_bytes());
        requests.fetch_add(1, Relaxed);
        if stream.write_all(&out).await.is_err() || close {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_path() {
        // Proves the toy server's answers: 200 known, 400 malformed, 404 unknown or no route.
        let a = PermitNo::from_body(b"110111ZH0300001").unwrap();
        let b = a.with_sequence(2);
        let known: HashSet<PermitNo> = [a].into_iter().collect();
        let q = |p: &str| route(b"GET", p.as_bytes(), &known).0;
        assert_eq!(q(&format!("/q/{a}")), 200);
        assert_eq!(q(&format!("/v1/permits/{a}")), 200);
        assert_eq!(q(&format!("/q/{b}")), 404);
        assert_eq!(q("/q/110111ZH030000"), 400);
        assert_eq!(q("/elsewhere"), 404);
        assert_eq!(route(b"POST", format!("/q/{a}").as_bytes(), &known).0, 405);
    }
}
