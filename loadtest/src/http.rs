//! The minimal HTTP/1.1 client: request writer, response parser, keep-alive connection.
//!
//! Hand-written over a raw [`tokio::net::TcpStream`] to keep the per-request cost at one write
//! and (usually) one read, with buffers reused across requests. It supports exactly what a
//! permitd load test needs:
//!
//! * requests: `GET`, or `POST` with a body (for a future bulk-verification workload); the writer
//!   adds `Host`, `User-Agent` and, for a body, `Content-Length`, and refuses anything that could
//!   break framing (CR/LF in a path or header, a workload-supplied `Host`/`Content-Length`…);
//! * responses: status line, headers, a `Content-Length` body (or none for 204/304). A chunked
//!   or other `Transfer-Encoding`, a body delimited by connection close, or a 1xx interim
//!   response are refused as [`ErrorKind::Unsupported`]; syntax faults as
//!   [`ErrorKind::BadResponse`]; a head over [`RESPONSE_HEAD_BYTES_MAX`] or a response over
//!   [`RESPONSE_BYTES_MAX`] as [`ErrorKind::TooLarge`].
//!
//! A [`Client`] owns at most one connection and opens a new one when the last was closed or
//! became unusable (any error, a timeout, or `Connection: close`).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::limits::{
    CONNECT_TIMEOUT, REQUEST_BYTES_MAX, RESPONSE_BYTES_MAX, RESPONSE_HEAD_BYTES_MAX,
};

/// Bytes the read buffer grows by before each read.
const READ_CHUNK_BYTES: usize = 8 * 1024;
const USER_AGENT: &str = concat!("permit-load/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    #[default]
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One request as a workload describes it. Reused: a workload fills it in place (see
/// [`Request::clear`]) so the hot loop allocates nothing once buffers have grown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// Index into the workload's kind names (for per-kind counts).
    pub kind: usize,
    pub method: Method,
    /// Origin-form path with query, e.g. `/q/110111ZH0300001M`.
    pub path: String,
    /// Extra headers; `Host`, `User-Agent`, `Content-Length` and `Transfer-Encoding` are the
    /// writer's own and refused here.
    pub headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    /// The body; must be empty for `GET`.
    pub body: Vec<u8>,
    /// The status the server should answer (200 for a known permit, 400 for a malformed
    /// number, 404 for an unknown one…).
    pub expect: u16,
}

impl Request {
    /// Empties the request, keeping its buffers' capacity.
    pub fn clear(&mut self) {
        self.kind = 0;
        self.method = Method::Get;
        self.path.clear();
        self.headers.clear();
        self.body.clear();
        self.expect = 0;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request path must start with '/' and hold only visible ASCII")]
    Path,
    #[error("header name {0:?} is not a token")]
    HeaderName(String),
    #[error("header {0:?} is set by the writer itself")]
    ReservedHeader(String),
    #[error("header {0:?} has a control or non-ASCII character in its value")]
    HeaderValue(String),
    #[error("a GET request cannot carry a body")]
    BodyOnGet,
    #[error("request is larger than {REQUEST_BYTES_MAX} bytes")]
    TooLarge,
}

/// Appends `req` to `out` as HTTP/1.1 bytes, with `Host: host`.
pub fn write_request(out: &mut Vec<u8>, host: &str, req: &Request) -> Result<(), RequestError> {
    let start = out.len();
    let result = write_request_inner(out, host, req);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_request_inner(out: &mut Vec<u8>, host: &str, req: &Request) -> Result<(), RequestError> {
    let path = req.path.as_bytes();
    if path.first() != Some(&b'/') || !path.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(RequestError::Path);
    }
    if req.method == Method::Get && !req.body.is_empty() {
        return Err(RequestError::BodyOnGet);
    }
    if req.body.len() > REQUEST_BYTES_MAX {
        return Err(RequestError::TooLarge);
    }
    let start = out.len();
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nUser-Agent: ");
    out.extend_from_slice(USER_AGENT.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &req.headers {
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(RequestError::HeaderName(name.to_string()));
        }
        if ["host", "user-agent", "content-length", "transfer-encoding"]
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r))
        {
            return Err(RequestError::ReservedHeader(name.to_string()));
        }
        if !value
            .bytes()
            .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
        {
            return Err(RequestError::HeaderValue(name.to_string()));
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if req.method != Method::Get {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(req.body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&req.body);
    if out.len() - start > REQUEST_BYTES_MAX {
        return Err(RequestError::TooLarge);
    }
    Ok(())
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// What the parser learned from a complete response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// Bytes of status line and headers, final blank line included.
    pub head_len: usize,
    pub body_len: usize,
    /// Whether the connection may carry the next request.
    pub keep_alive: bool,
}

impl ResponseHead {
    pub fn total_len(&self) -> usize {
        self.head_len + self.body_len
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Not all there yet: at least `needed` bytes in total are required before it can be.
    Partial { needed: usize },
    /// The whole response (head and body) is in the buffer's first `total_len()` bytes.
    Complete(ResponseHead),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("malformed status line")]
    BadStatusLine,
    #[error("not an HTTP/1.0 or HTTP/1.1 response")]
    BadVersion,
    #[error("status code outside 100-599")]
    BadStatusCode,
    #[error("malformed header line")]
    BadHeader,
    #[error("malformed or conflicting Content-Length")]
    BadContentLength,
    #[error("interim 1xx response {0} (not supported)")]
    Informational(u16),
    #[error("Transfer-Encoding {0:?} is not supported (only Content-Length bodies)")]
    TransferEncoding(String),
    #[error("no Content-Length: close-delimited bodies are not supported")]
    NoContentLength,
    #[error("response head longer than {RESPONSE_HEAD_BYTES_MAX} bytes")]
    HeadTooLarge,
    #[error("response of {0} bytes is larger than {RESPONSE_BYTES_MAX}")]
    BodyTooLarge(usize),
}

/// Parses the response at the start of `buf`.
pub fn parse_response(buf: &[u8]) -> Result<Parsed, ParseError> {
    let search = &buf[..buf.len().min(RESPONSE_HEAD_BYTES_MAX)];
    let Some(head_end) = search.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() >= RESPONSE_HEAD_BYTES_MAX {
            return Err(ParseError::HeadTooLarge);
        }
        // Fail fast on garbage rather than waiting for a head that will never end.
        let seen = buf.len().min(5);
        if buf[..seen] != b"HTTP/"[..seen] {
            return Err(ParseError::BadStatusLine);
        }
        return Ok(Parsed::Partial {
            needed: buf.len() + 1,
        });
    };
    let head_len = head_end + 4;
    let mut lines = HeadLines {
        rest: &buf[..head_end + 2],
    };
    let status_line = lines.next().ok_or(ParseError::BadStatusLine)??;
    let (http11, status) = parse_status_line(status_line)?;
    if (100..200).contains(&status) {
        return Err(ParseError::Informational(status));
    }

    let mut content_length: Option<usize> = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut close = false;
    let mut keep_alive_token = false;
    for line in lines {
        let line = line?;
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            return Err(ParseError::BadHeader); // obsolete line folding
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::BadHeader)?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(ParseError::BadHeader);
        }
        let value = trim_ows(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_content_length(value)?;
            if content_length.is_some_and(|m| m != n) {
                return Err(ParseError::BadContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = Some(value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim_ows) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    if let Some(te) = transfer_encoding {
        return Err(ParseError::TransferEncoding(
            String::from_utf8_lossy(te).into_owned(),
        ));
    }
    let body_len = match (status, content_length) {
        (204 | 304, _) => 0,
        (_, Some(n)) => n,
        (_, None) => return Err(ParseError::NoContentLength),
    };
    let total = head_len
        .checked_add(body_len)
        .ok_or(ParseError::BodyTooLarge(usize::MAX))?;
    if total > RESPONSE_BYTES_MAX {
        return Err(ParseError::BodyTooLarge(total));
    }
    let head = ResponseHead {
        status,
        head_len,
        body_len,
        keep_alive: !close && (http11 || keep_alive_token),
    };
    if buf.len() < total {
        return Ok(Parsed::Partial { needed: total });
    }
    Ok(Parsed::Complete(head))
}

/// `HTTP/1.x SP 3DIGIT [SP reason]` → (is HTTP/1.1, status).
fn parse_status_line(line: &[u8]) -> Result<(bool, u16), ParseError> {
    if line.len() < 12 || !line.starts_with(b"HTTP/") {
        return Err(if line.len() >= 8 && !line.starts_with(b"HTTP/1.") {
            ParseError::BadVersion
        } else {
            ParseError::BadStatusLine
        });
    }
    let http11 = match &line[..8] {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        _ => return Err(ParseError::BadVersion),
    };
    if line[8] != b' ' {
        return Err(ParseError::BadStatusLine);
    }
    let code = &line[9..12];
    if !code.iter().all(u8::is_ascii_digit) || !(line.len() == 12 || line[12] == b' ') {
        return Err(ParseError::BadStatusLine);
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Err(ParseError::BadStatusCode);
    }
    Ok((http11, status))
}

fn parse_content_length(value: &[u8]) -> Result<usize, ParseError> {
    if value.is_empty() || value.len() > 15 || !value.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadContentLength);
    }
    Ok(value
        .iter()
        .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0')))
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Lines of a head where every line ends in CRLF; a bare CR or LF is an error.
struct HeadLines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for HeadLines<'a> {
    type Item = Result<&'a [u8], ParseError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let Some(lf) = self.rest.iter().position(|&b| b == b'\n') else {
            self.rest = &[];
            return Some(Err(ParseError::BadHeader));
        };
        let (line, rest) = (&self.rest[..lf], &self.rest[lf + 1..]);
        self.rest = rest;
        match line.split_last() {
            Some((b'\r', line)) if !line.contains(&b'\r') => Some(Ok(line)),
            _ => {
                self.rest = &[];
                Some(Err(ParseError::BadHeader))
            }
        }
    }
}

/// Why a request got no usable answer: the error vocabulary of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The TCP connect failed or timed out.
    Connect,
    /// No complete response within the request timeout.
    Timeout,
    /// A read or write failed.
    Io,
    /// The server closed the connection before a complete response.
    Closed,
    /// The response broke HTTP/1.1 syntax.
    BadResponse,
    /// Valid HTTP this client does not speak: chunked or other transfer codings, close-delimited
    /// bodies, 1xx responses.
    Unsupported,
    /// Head or whole response over the limits.
    TooLarge,
    /// The workload produced a request the writer refused (a bug in the workload).
    Request,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Io,
        ErrorKind::Closed,
        ErrorKind::BadResponse,
        ErrorKind::Unsupported,
        ErrorKind::TooLarge,
        ErrorKind::Request,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "io",
            ErrorKind::Closed => "closed",
            ErrorKind::BadResponse => "bad_response",
            ErrorKind::Unsupported => "unsupported_framing",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Request => "request",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl From<&ParseError> for ErrorKind {
    fn from(e: &ParseError) -> ErrorKind {
        match e {
            ParseError::BadStatusLine
            | ParseError::BadVersion
            | ParseError::BadStatusCode
            | ParseError::BadHeader
            | ParseError::BadContentLength => ErrorKind::BadResponse,
            ParseError::Informational(_)
            | ParseError::TransferEncoding(_)
            | ParseError::NoContentLength => ErrorKind::Unsupported,
            ParseError::HeadTooLarge | ParseError::BodyTooLarge(_) => ErrorKind::TooLarge,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("connection closed before a complete response")]
    Closed,
    #[error(transparent)]
    Parse(#[from] ParseError),
}

impl ExchangeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ExchangeError::Request(_) => ErrorKind::Request,
            ExchangeError::Io(_) => ErrorKind::Io,
            ExchangeError::Closed => ErrorKind::Closed,
            ExchangeError::Parse(e) => ErrorKind::from(e),
        }
    }
}

/// Opens a TCP connection with `TCP_NODELAY` set, bounded by [`CONNECT_TIMEOUT`] (for every
/// protocol: HTTP here, RESP in [`crate::resp`]).
pub async fn connect_tcp(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(s) => s?,
        Err(_) => return Err(std::io::Error::from(std::io::ErrorKind::TimedOut)),
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One keep-alive TCP connection with its reusable buffers.
pub struct Connection {
    stream: TcpStream,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
}

impl Connection {
    /// Connects with `TCP_NODELAY` set, bounded by [`CONNECT_TIMEOUT`].
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Connection> {
        Ok(Connection::from_stream(connect_tcp(addr).await?))
    }

    /// A connection over a stream opened by [`connect_tcp`].
    pub fn from_stream(stream: TcpStream) -> Connection {
        Connection {
            stream,
            rbuf: Vec::with_capacity(READ_CHUNK_BYTES),
            wbuf: Vec::with_capacity(1024),
        }
    }

    /// Writes `req` and reads its response (whose body is consumed, not kept).
    pub async fn exchange(
        &mut self,
        host: &str,
        req: &Request,
    ) -> Result<ResponseHead, ExchangeError> {
        self.wbuf.clear();
        write_request(&mut self.wbuf, host, req)?;
        self.stream.write_all(&self.wbuf).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> Result<ResponseHead, ExchangeError> {
        let mut needed = 1;
        loop {
            if self.rbuf.len() >= needed {
                match parse_response(&self.rbuf)? {
                    Parsed::Complete(head) => {
                        let total = head.total_len();
                        if total == self.rbuf.len() {
                            self.rbuf.clear();
                        } else {
                            self.rbuf.drain(..total);
                        }
                        return Ok(head);
                    }
                    Parsed::Partial { needed: n } => needed = n,
                }
            }
            self.rbuf.reserve(READ_CHUNK_BYTES);
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(ExchangeError::Closed);
            }
        }
    }
}

/// A request sender that keeps one connection open and reopens it when needed.
pub struct Client {
    addr: SocketAddr,
    host: String,
    timeout: Duration,
    conn: Option<Connection>,
}

impl Client {
    pub fn new(
        addr: SocketAddr,
        host: String,
        timeout: Duration,
        conn: Option<Connection>,
    ) -> Self {
        Client {
            addr,
            host,
            timeout,
            conn,
        }
    }

    /// Sends `req` and returns the response head, or why there is none. After any error the
    /// connection is dropped (its stream may be out of step); the next call reconnects.
    pub async fn send(&mut self, req: &Request) -> Result<ResponseHead, ErrorKind> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => match Connection::connect(self.addr).await {
                Ok(c) => self.conn.insert(c),
                Err(_) => return Err(ErrorKind::Connect),
            },
        };
        let result = match tokio::time::timeout(self.timeout, conn.exchange(&self.host, req)).await
        {
            Err(_) => Err(ErrorKind::Timeout),
            Ok(Err(ExchangeError::Request(_))) => return Err(ErrorKind::Request),
            Ok(Err(e)) => Err(e.kind()),
            Ok(Ok(head)) => Ok(head),
        };
        if !matches!(
            result,
            Ok(ResponseHead {
                keep_alive: true,
                ..
            })
        ) {
            self.conn = None;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello";

    fn get(path: &str) -> Request {
        Request {
            path: path.to_owned(),
            expect: 200,
            ..Request::default()
        }
    }

    #[test]
    fn writes_get_and_post() {
        // Proves the writer emits exact HTTP/1.1 bytes for a GET and a POST with a body.
        let mut out = Vec::new();
        let mut req = get("/q/110111ZH0300001M");
        req.headers
            .push(("Accept".into(), "application/json".into()));
        write_request(&mut out, "127.0.0.1:8080", &req).unwrap();
        let expected = format!(
            "GET /q/110111ZH0300001M HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: {USER_AGENT}\r\n\
             Accept: application/json\r\n\r\n"
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);

        let mut out = Vec::new();
        let post = Request {
            method: Method::Post,
            path: "/v1/verify".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: b"[\"a\"]".to_vec(),
            ..Request::default()
        };
        write_request(&mut out, "h", &post).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("POST /v1/verify HTTP/1.1\r\nHost: h\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with("Content-Type: application/json\r\nContent-Length: 5\r\n\r\n[\"a\"]")
        );
    }

    #[test]
    fn writer_refuses_framing_breakers() {
        // Proves the writer refuses paths, headers and bodies that could break request framing,
        // and leaves the buffer as it was.
        let mut out = b"keep".to_vec();
        assert_eq!(
            write_request(&mut out, "h", &get("q")),
            Err(RequestError::Path)
        );
        assert_eq!(
            write_request(&mut out, "h", &get("/a b")),
            Err(RequestError::Path)
        );
        assert_eq!(
            write_request(&mut out, "h", &get("/a\r\nX: y")),
            Err(RequestError::Path)
        );
        let mut r = get("/");
        r.headers.push(("X".into(), "a\r\nEvil: 1".into()));
        assert!(matches!(
            write_request(&mut out, "h", &r),
            Err(RequestError::HeaderValue(_))
        ));
        let mut r = get("/");
        r.headers.push(("content-length".into(), "1".into()));
        assert!(matches!(
            write_request(&mut out, "h", &r),
            Err(RequestError::ReservedHeader(_))
        ));
        let mut r = get("/");
        r.headers.push(("Bad Name".into(), "1".into()));
        assert!(matches!(
            write_request(&mut out, "h", &r),
            Err(RequestError::HeaderName(_))
        ));
        let mut r = get("/");
        r.body = b"x".to_vec();
        assert_eq!(
            write_request(&mut out, "h", &r),
            Err(RequestError::BodyOnGet)
        );
        assert_eq!(out, b"keep");
    }

    #[test]
    fn parses_good_responses() {
        // Proves complete responses yield status, lengths and keep-alive as the headers say.
        let head = match parse_response(OK).unwrap() {
            Parsed::Complete(h) => h,
            p => panic!("{p:?}"),
        };
        assert_eq!(
            head,
            ResponseHead {
                status: 200,
                head_len: OK.len() - 5,
                body_len: 5,
                keep_alive: true
            }
        );

        let r = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nConnection: close\r\n\r\n";
        assert!(matches!(
            parse_response(r),
            Ok(Parsed::Complete(ResponseHead {
                status: 404,
                keep_alive: false,
                body_len: 0,
                ..
            }))
        ));
        let r = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(
            parse_response(r),
            Ok(Parsed::Complete(ResponseHead {
                keep_alive: false,
                ..
            }))
        ));
        let r = b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(
            parse_response(r),
            Ok(Parsed::Complete(ResponseHead {
                keep_alive: true,
                ..
            }))
        ));
        let r = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert!(matches!(
            parse_response(r),
            Ok(Parsed::Complete(ResponseHead {
                status: 204,
                body_len: 0,
                ..
            }))
        ));
        let r = b"HTTP/1.1 500\r\nContent-Length:  2 \r\nContent-Length: 2\r\n\r\nok";
        assert!(matches!(
            parse_response(r),
            Ok(Parsed::Complete(ResponseHead {
                status: 500,
                body_len: 2,
                ..
            }))
        ));
    }

    #[test]
    fn pipelined_bytes_stay_after_the_first_response() {
        // Proves the parser reports only the first response's length when more bytes follow.
        let mut two = OK.to_vec();
        two.extend_from_slice(OK);
        match parse_response(&two).unwrap() {
            Parsed::Complete(h) => assert_eq!(h.total_len(), OK.len()),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn every_proper_prefix_is_partial() {
        // Proves each truncation of a good response is Partial (never an error, never Complete).
        for cut in 0..OK.len() {
            match parse_response(&OK[..cut]) {
                Ok(Parsed::Partial { needed }) => assert!(needed > cut, "cut {cut}"),
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        // Once the head is in, the parser knows the exact total it waits for.
        let head_only = &OK[..OK.len() - 5];
        assert_eq!(
            parse_response(head_only),
            Ok(Parsed::Partial { needed: OK.len() })
        );
    }

    #[test]
    fn rejects_bad_and_unsupported_responses() {
        // Proves malformed, unsupported and oversized responses map to their error and kind.
        let cases: &[(&[u8], ErrorKind)] = &[
            (b"SMTP 220 hi\r\n\r\n", ErrorKind::BadResponse),
            (b"garbage", ErrorKind::BadResponse),
            (
                b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
                ErrorKind::BadResponse,
            ),
            (
                b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
                ErrorKind::BadResponse,
            ),
            (
                b"HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
                ErrorKind::BadResponse,
            ),
            (
                b"HTTP/1.1 700 Odd\r\nContent-Length: 0\r\n\r\n",
                ErrorKind::BadResponse,
            ),
            (
                b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
                ErrorKind::BadResponse,
            ),
            (
                b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
                ErrorKind::BadResponse,
            ),
            (
                b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
                ErrorKind::BadResponse,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                ErrorKind::BadResponse,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ErrorKind::BadResponse,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                ErrorKind::Unsupported,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
                ErrorKind::Unsupported,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>",
                ErrorKind::Unsupported,
            ),
            (b"HTTP/1.1 100 Continue\r\n\r\n", ErrorKind::Unsupported),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
                ErrorKind::TooLarge,
            ),
        ];
        for (bytes, kind) in cases {
            let err = parse_response(bytes).expect_err(&String::from_utf8_lossy(bytes));
            assert_eq!(
                ErrorKind::from(&err),
                *kind,
                "{:?}: {err}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(ParseError::TransferEncoding("chunked".into()))
        );
        let mut huge = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        huge.resize(RESPONSE_HEAD_BYTES_MAX + 10, b'a');
        assert_eq!(parse_response(&huge), Err(ParseError::HeadTooLarge));
    }
}
