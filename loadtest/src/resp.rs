//! The minimal Redis client for `--protocol redis`: command writer, RESP reply parser,
//! keep-alive connection.
//!
//! It exists to put a key-value store beside permitd in the same measurement: the same
//! workload, loops, histograms and reports, over RESP instead of HTTP. Each request of the
//! workload becomes one `GET` of the key `q/{token}`, where `{token}` is the last segment of the
//! request's path. That is the key `permitd export answers` writes into its Redis mass-insertion
//! file: one key per permit, holding the JSON answer, which is the same body for `/q/{number}`
//! (with `Accept: application/json`) and `/v1/permits/{number}`. A `malformed` or `unknown`
//! request asks for a key nobody stored, so its expected reply is nil.
//!
//! Replies are parsed as RESP2 (plus the RESP3 null `_`, in case a server is switched to it):
//! simple strings, errors, integers, bulk strings, nil (`$-1`, `*-1`, `_`) and arrays, nested up
//! to [`REPLY_DEPTH_MAX`]. Reports keep the HTTP vocabulary of "status" so one recorder serves
//! both protocols, with these codes, named in reports by [`status_name`]:
//!
//! | reply | status | report name |
//! | --- | --- | --- |
//! | bulk string | [`STATUS_BULK`] (200) | `bulk` |
//! | nil | [`STATUS_NIL`] (404) | `nil` |
//! | error (`-ERR …`) | [`STATUS_ERROR`] (500) | `error` |
//! | simple string, integer, array | [`STATUS_OTHER`] (502) | `other` |
//!
//! An error reply is an answer (the connection stays usable), so it counts as an unexpected
//! status, not as a request error; syntax faults count as [`ErrorKind::BadResponse`], a line or
//! reply over the limits as [`ErrorKind::TooLarge`].

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{connect_tcp, ErrorKind, Method, Request};
use crate::limits::{REQUEST_BYTES_MAX, RESPONSE_BYTES_MAX, RESPONSE_HEAD_BYTES_MAX};

/// A bulk string: the stored answer.
pub const STATUS_BULK: u16 = 200;
/// Nil: no such key.
pub const STATUS_NIL: u16 = 404;
/// An error reply.
pub const STATUS_ERROR: u16 = 500;
/// A reply `GET` never gives: simple string, integer or array.
pub const STATUS_OTHER: u16 = 502;

/// Deepest nesting of arrays accepted in a reply.
pub const REPLY_DEPTH_MAX: usize = 8;
/// Longest simple-string, error, integer or length line, in bytes (CRLF included).
pub const LINE_BYTES_MAX: usize = RESPONSE_HEAD_BYTES_MAX;
/// Most elements in one array reply.
pub const ARRAY_ELEMENTS_MAX: usize = 64 * 1024;

/// The prefix of every key: the export's keys are `q/{number}`.
pub const KEY_PREFIX: &str = "q/";

/// Bytes the read buffer grows by before each read.
const READ_CHUNK_BYTES: usize = 8 * 1024;

/// The name of a status code in a Redis run's report.
pub fn status_name(status: u16) -> &'static str {
    match status {
        STATUS_BULK => "bulk",
        STATUS_NIL => "nil",
        STATUS_ERROR => "error",
        _ => "other",
    }
}

/// The reply a workload's request should get, from the HTTP status it expects: a known permit
/// (200) has its answer stored, anything else (400 malformed, 404 unknown) is no key at all.
pub fn expected_status(http_expect: u16) -> u16 {
    if http_expect == 200 {
        STATUS_BULK
    } else {
        STATUS_NIL
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("only GET requests map to a Redis command")]
    Method,
    #[error("request path {0:?} has no last segment to make a key of")]
    Path(String),
    #[error("command is larger than {REQUEST_BYTES_MAX} bytes")]
    TooLarge,
}

/// Appends the key for `req` (`q/` + the last segment of its path) to `out`.
pub fn key_of(req: &Request, out: &mut Vec<u8>) -> Result<(), CommandError> {
    if req.method != Method::Get || !req.body.is_empty() {
        return Err(CommandError::Method);
    }
    let token = req
        .path
        .rsplit_once('/')
        .map(|(_, t)| t)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| CommandError::Path(req.path.clone()))?;
    out.extend_from_slice(KEY_PREFIX.as_bytes());
    out.extend_from_slice(token.as_bytes());
    Ok(())
}

/// Appends `args` to `out` as a RESP command (an array of bulk strings).
pub fn write_command(out: &mut Vec<u8>, args: &[&[u8]]) -> Result<(), CommandError> {
    let start = out.len();
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    if out.len() - start > REQUEST_BYTES_MAX {
        out.truncate(start);
        return Err(CommandError::TooLarge);
    }
    Ok(())
}

/// What kind of reply arrived (the parser does not keep the contents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A bulk string of this many bytes.
    Bulk(usize),
    /// `$-1`, `*-1` or RESP3 `_`.
    Nil,
    /// `-…`: the server refused the command.
    Error,
    /// `+…`.
    Simple,
    /// `:…`.
    Integer(i64),
    /// An array of this many elements (each parsed and checked).
    Array(usize),
}

impl Reply {
    /// The status code reports count this reply under (see the module doc).
    pub fn status(self) -> u16 {
        match self {
            Reply::Bulk(_) => STATUS_BULK,
            Reply::Nil => STATUS_NIL,
            Reply::Error => STATUS_ERROR,
            Reply::Simple | Reply::Integer(_) | Reply::Array(_) => STATUS_OTHER,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Not all there yet: at least `needed` bytes in total are required before it can be.
    Partial { needed: usize },
    /// The whole reply is in the buffer's first `len` bytes.
    Complete { reply: Reply, len: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown RESP type byte {0:#04x}")]
    BadType(u8),
    #[error("a RESP line must end in CRLF, with no CR or LF inside")]
    BadLine,
    #[error("malformed length or integer")]
    BadNumber,
    #[error("bulk string not followed by CRLF")]
    BadTerminator,
    #[error("RESP line longer than {LINE_BYTES_MAX} bytes")]
    LineTooLong,
    #[error("reply of {0} bytes is larger than {RESPONSE_BYTES_MAX}")]
    TooLarge(usize),
    #[error("array of {0} elements is longer than {ARRAY_ELEMENTS_MAX}")]
    ArrayTooLong(usize),
    #[error("arrays nested deeper than {REPLY_DEPTH_MAX}")]
    TooDeep,
}

impl From<&ParseError> for ErrorKind {
    fn from(e: &ParseError) -> ErrorKind {
        match e {
            ParseError::BadType(_)
            | ParseError::BadLine
            | ParseError::BadNumber
            | ParseError::BadTerminator => ErrorKind::BadResponse,
            ParseError::LineTooLong
            | ParseError::TooLarge(_)
            | ParseError::ArrayTooLong(_)
            | ParseError::TooDeep => ErrorKind::TooLarge,
        }
    }
}

/// Parses the reply at the start of `buf`.
pub fn parse_reply(buf: &[u8]) -> Result<Parsed, ParseError> {
    match parse_at(buf, 0, 0)? {
        Step::Need(needed) => Ok(Parsed::Partial { needed }),
        Step::Done(reply, len) => Ok(Parsed::Complete { reply, len }),
    }
}

enum Step {
    Need(usize),
    Done(Reply, usize),
}

/// The line starting at `pos` (after its type byte): (content, index after its CRLF).
fn line_at(buf: &[u8], pos: usize) -> Result<Option<(&[u8], usize)>, ParseError> {
    let window = &buf[pos..buf.len().min(pos + LINE_BYTES_MAX)];
    match window.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let line = &window[..lf];
            match line.split_last() {
                Some((b'\r', content)) if !content.contains(&b'\r') => {
                    Ok(Some((content, pos + lf + 1)))
                }
                _ => Err(ParseError::BadLine),
            }
        }
        None if window.len() >= LINE_BYTES_MAX => Err(ParseError::LineTooLong),
        // A CR anywhere but last cannot become a valid line ending.
        None if window
            .split_last()
            .is_some_and(|(_, head)| head.contains(&b'\r')) =>
        {
            Err(ParseError::BadLine)
        }
        None => Ok(None),
    }
}

/// A signed decimal integer as RESP writes it (no '+', no leading spaces).
fn parse_integer(text: &[u8]) -> Result<i64, ParseError> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadNumber);
    }
    let magnitude = digits
        .iter()
        .try_fold(0i64, |n, &d| {
            n.checked_mul(10)?.checked_add(i64::from(d - b'0'))
        })
        .ok_or(ParseError::BadNumber)?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// A length: -1 means nil, otherwise 0..=max.
fn parse_length(text: &[u8]) -> Result<Option<usize>, ParseError> {
    if text == b"-1" {
        return Ok(None);
    }
    if text.first() == Some(&b'-') {
        return Err(ParseError::BadNumber);
    }
    let n = parse_integer(text)?;
    usize::try_from(n)
        .map(Some)
        .map_err(|_| ParseError::BadNumber)
}

fn parse_at(buf: &[u8], pos: usize, depth: usize) -> Result<Step, ParseError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(Step::Need(pos + 1));
    };
    if !b"+-:$*_".contains(&kind) {
        return Err(ParseError::BadType(kind));
    }
    let Some((line, after)) = line_at(buf, pos + 1)? else {
        return Ok(Step::Need(buf.len() + 1));
    };
    if after > RESPONSE_BYTES_MAX {
        return Err(ParseError::TooLarge(after));
    }
    match kind {
        b'+' => Ok(Step::Done(Reply::Simple, after)),
        b'-' => Ok(Step::Done(Reply::Error, after)),
        b':' => Ok(Step::Done(Reply::Integer(parse_integer(line)?), after)),
        b'_' if line.is_empty() => Ok(Step::Done(Reply::Nil, after)),
        b'_' => Err(ParseError::BadLine),
        b'$' => {
            let Some(len) = parse_length(line)? else {
                return Ok(Step::Done(Reply::Nil, after));
            };
            let end = after
                .checked_add(len)
                .and_then(|e| e.checked_add(2))
                .filter(|&e| e <= RESPONSE_BYTES_MAX)
                .ok_or(ParseError::TooLarge(after.saturating_add(len)))?;
            if buf.len() < end {
                return Ok(Step::Need(end));
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(ParseError::BadTerminator);
            }
            Ok(Step::Done(Reply::Bulk(len), end))
        }
        _ => {
            let Some(count) = parse_length(line)? else {
                return Ok(Step::Done(Reply::Nil, after));
            };
            if count > ARRAY_ELEMENTS_MAX {
                return Err(ParseError::ArrayTooLong(count));
            }
            if count > 0 && depth + 1 > REPLY_DEPTH_MAX {
                return Err(ParseError::TooDeep);
            }
            let mut at = after;
            for _ in 0..count {
                match parse_at(buf, at, depth + 1)? {
                    Step::Need(n) => return Ok(Step::Need(n)),
                    Step::Done(_, end) => at = end,
                }
            }
            Ok(Step::Done(Reply::Array(count), at))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("connection closed before a complete reply")]
    Closed,
    #[error(transparent)]
    Parse(#[from] ParseError),
}

impl ExchangeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ExchangeError::Command(_) => ErrorKind::Request,
            ExchangeError::Io(_) => ErrorKind::Io,
            ExchangeError::Closed => ErrorKind::Closed,
            ExchangeError::Parse(e) => ErrorKind::from(e),
        }
    }
}

/// One keep-alive connection to a Redis server with its reusable buffers.
pub struct Connection {
    stream: TcpStream,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    key: Vec<u8>,
}

impl Connection {
    /// Connects with `TCP_NODELAY` set, bounded by the connect timeout.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Connection> {
        Ok(Connection::from_stream(connect_tcp(addr).await?))
    }

    pub fn from_stream(stream: TcpStream) -> Connection {
        Connection {
            stream,
            rbuf: Vec::with_capacity(READ_CHUNK_BYTES),
            wbuf: Vec::with_capacity(128),
            key: Vec::with_capacity(64),
        }
    }

    /// Sends `args` as one command and reads its reply (whose contents are consumed).
    pub async fn command(&mut self, args: &[&[u8]]) -> Result<Reply, ExchangeError> {
        self.wbuf.clear();
        write_command(&mut self.wbuf, args)?;
        self.stream.write_all(&self.wbuf).await?;
        self.read_reply().await
    }

    /// `GET` of the key for `req` (see [`key_of`]).
    pub async fn get_for(&mut self, req: &Request) -> Result<Reply, ExchangeError> {
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        let result = match key_of(req, &mut key) {
            Ok(()) => self.command(&[b"GET", &key]).await,
            Err(e) => Err(e.into()),
        };
        self.key = key;
        result
    }

    async fn read_reply(&mut self) -> Result<Reply, ExchangeError> {
        let mut needed = 1;
        loop {
            if self.rbuf.len() >= needed {
                match parse_reply(&self.rbuf)? {
                    Parsed::Complete { reply, len } => {
                        if len == self.rbuf.len() {
                            self.rbuf.clear();
                        } else {
                            self.rbuf.drain(..len);
                        }
                        return Ok(reply);
                    }
                    Parsed::Partial { needed: n } => needed = n,
                }
            }
            self.rbuf
                .reserve(READ_CHUNK_BYTES.max(needed - self.rbuf.len()));
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(ExchangeError::Closed);
            }
        }
    }
}

/// A command sender that keeps one connection open and reopens it when needed.
pub struct Client {
    addr: SocketAddr,
    timeout: Duration,
    conn: Option<Connection>,
}

impl Client {
    pub fn new(addr: SocketAddr, timeout: Duration, conn: Option<Connection>) -> Client {
        Client {
            addr,
            timeout,
            conn,
        }
    }

    /// Sends the `GET` for `req` and returns the status its reply counts as (see the module
    /// doc), or why there is none. After a failure the connection is dropped (its stream may be
    /// out of step) and the next call reconnects; an error reply keeps it.
    pub async fn send(&mut self, req: &Request) -> Result<u16, ErrorKind> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => match Connection::connect(self.addr).await {
                Ok(c) => self.conn.insert(c),
                Err(_) => return Err(ErrorKind::Connect),
            },
        };
        let result = match tokio::time::timeout(self.timeout, conn.get_for(req)).await {
            Err(_) => Err(ErrorKind::Timeout),
            Ok(Err(ExchangeError::Command(_))) => return Err(ErrorKind::Request),
            Ok(Err(e)) => Err(e.kind()),
            Ok(Ok(reply)) => Ok(reply.status()),
        };
        if result.is_err() {
            self.conn = None;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8]) -> (Reply, usize) {
        match parse_reply(bytes) {
            Ok(Parsed::Complete { reply, len }) => (reply, len),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bytes)),
        }
    }

    #[test]
    fn writes_commands_as_arrays_of_bulk_strings() {
        // Proves the exact bytes of a GET, and that keys come from the path's last segment.
        let mut out = Vec::new();
        write_command(&mut out, &[b"GET", b"q/110111ZH0300001M"]).unwrap();
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$18\r\nq/110111ZH0300001M\r\n");
        let mut key = Vec::new();
        let mut req = Request {
            path: "/v1/permits/110111ZH0300001M".into(),
            ..Request::default()
        };
        key_of(&req, &mut key).unwrap();
        assert_eq!(key, b"q/110111ZH0300001M");
        key.clear();
        req.path = "/q/110111ZH03".into();
        key_of(&req, &mut key).unwrap();
        assert_eq!(key, b"q/110111ZH03");
        req.path = "/q/".into();
        assert!(matches!(key_of(&req, &mut key), Err(CommandError::Path(_))));
        req.method = Method::Post;
        assert_eq!(key_of(&req, &mut key), Err(CommandError::Method));
        let mut out = b"keep".to_vec();
        let huge = vec![b'x'; REQUEST_BYTES_MAX];
        assert_eq!(
            write_command(&mut out, &[b"GET", &huge]),
            Err(CommandError::TooLarge)
        );
        assert_eq!(out, b"keep");
    }

    #[test]
    fn parses_every_reply_type() {
        // Proves each RESP2 type (and RESP3 null) parses to its kind, length and status.
        let cases: &[(&[u8], Reply, u16)] = &[
            (b"$5\r\nhello\r\n", Reply::Bulk(5), STATUS_BULK),
            (b"$0\r\n\r\n", Reply::Bulk(0), STATUS_BULK),
            (b"$-1\r\n", Reply::Nil, STATUS_NIL),
            (b"*-1\r\n", Reply::Nil, STATUS_NIL),
            (b"_\r\n", Reply::Nil, STATUS_NIL),
            (b"-ERR unknown command\r\n", Reply::Error, STATUS_ERROR),
            (b"+OK\r\n", Reply::Simple, STATUS_OTHER),
            (b":-42\r\n", Reply::Integer(-42), STATUS_OTHER),
            (b"*0\r\n", Reply::Array(0), STATUS_OTHER),
            (
                b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n+x\r\n",
                Reply::Array(3),
                STATUS_OTHER,
            ),
        ];
        for &(bytes, want, status) in cases {
            let (reply, len) = complete(bytes);
            assert_eq!(reply, want, "{:?}", String::from_utf8_lossy(bytes));
            assert_eq!(len, bytes.len());
            assert_eq!(reply.status(), status);
        }
        // A bulk string may hold CR, LF and any byte: it is length-delimited.
        let (reply, _) = complete(b"$4\r\n\r\n\x00\xff\r\n");
        assert_eq!(reply, Reply::Bulk(4));
    }

    #[test]
    fn every_proper_prefix_is_partial() {
        // Proves each truncation of good replies is Partial with a need beyond what is there.
        for whole in [
            &b"$11\r\n{\"a\":\"b\"}\r\n\r\n"[..],
            b"*2\r\n$3\r\nfoo\r\n*1\r\n-ERR x\r\n",
            b"-WRONGTYPE Operation\r\n",
            b"$-1\r\n",
        ] {
            for cut in 0..whole.len() {
                match parse_reply(&whole[..cut]) {
                    Ok(Parsed::Partial { needed }) => assert!(needed > cut, "cut {cut}"),
                    other => panic!("{:?} cut {cut}: {other:?}", String::from_utf8_lossy(whole)),
                }
            }
        }
        // Once a bulk length is in, the parser knows the exact total.
        assert_eq!(parse_reply(b"$5\r\nhe"), Ok(Parsed::Partial { needed: 11 }));
    }

    #[test]
    fn pipelined_bytes_stay_after_the_first_reply() {
        // Proves only the first reply's length is reported when more replies follow.
        let (reply, len) = complete(b"$2\r\nok\r\n$-1\r\n:1\r\n");
        assert_eq!((reply, len), (Reply::Bulk(2), 8));
    }

    #[test]
    fn rejects_bad_and_oversized_replies() {
        // Proves malformed replies map to BadResponse and oversized ones to TooLarge.
        let cases: &[(&[u8], ErrorKind)] = &[
            (b"HTTP/1.1 200 OK\r\n\r\n", ErrorKind::BadResponse),
            (b"!3\r\nabc\r\n", ErrorKind::BadResponse),
            (b"+OK\n", ErrorKind::BadResponse),
            (b"+O\rK\r\n", ErrorKind::BadResponse),
            (b"$abc\r\n", ErrorKind::BadResponse),
            (b"$-2\r\n", ErrorKind::BadResponse),
            (b"$+3\r\nabc\r\n", ErrorKind::BadResponse),
            (b"$3\r\nabcd\r\n", ErrorKind::BadResponse),
            (b":12x\r\n", ErrorKind::BadResponse),
            (b":99999999999999999999\r\n", ErrorKind::BadResponse),
            (b"_x\r\n", ErrorKind::BadResponse),
            (b"*1\r\n?\r\n", ErrorKind::BadResponse),
            (b"$99999999\r\n", ErrorKind::TooLarge),
            (b"*99999999\r\n", ErrorKind::TooLarge),
        ];
        for (bytes, kind) in cases {
            let err = parse_reply(bytes).expect_err(&String::from_utf8_lossy(bytes));
            assert_eq!(
                ErrorKind::from(&err),
                *kind,
                "{:?}: {err}",
                String::from_utf8_lossy(bytes)
            );
        }
        let mut long = b"+".to_vec();
        long.resize(LINE_BYTES_MAX + 10, b'a');
        assert_eq!(parse_reply(&long), Err(ParseError::LineTooLong));
        let mut deep = b"*1\r\n".repeat(REPLY_DEPTH_MAX + 1);
        deep.extend_from_slice(b":1\r\n");
        assert_eq!(parse_reply(&deep), Err(ParseError::TooDeep));
        let mut ok_depth = b"*1\r\n".repeat(REPLY_DEPTH_MAX);
        ok_depth.extend_from_slice(b":1\r\n");
        assert_eq!(complete(&ok_depth).0, Reply::Array(1));
    }

    #[test]
    fn expectations_follow_the_http_ones() {
        // Proves known permits expect their answer and malformed/unknown ones expect nil.
        assert_eq!(expected_status(200), STATUS_BULK);
        assert_eq!(expected_status(400), STATUS_NIL);
        assert_eq!(expected_status(404), STATUS_NIL);
        assert_eq!(status_name(STATUS_BULK), "bulk");
        assert_eq!(status_name(STATUS_NIL), "nil");
        assert_eq!(status_name(STATUS_ERROR), "error");
        assert_eq!(status_name(STATUS_OTHER), "other");
    }
}
