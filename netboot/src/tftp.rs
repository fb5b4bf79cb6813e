//! TFTP packets (RFC 1350) with options (RFC 2347 OACK, 2348 `blksize`, 2349 `tsize` and
//! `timeout`, 7440 `windowsize`): parsed from what a client sends, written for what we send.
//!
//! Parsing never panics and never allocates more than the packet: a packet that does not
//! parse is answered with an error packet (or dropped, when it was not a request).

use std::fmt;

/// The opcodes.
const RRQ: u16 = 1;
const WRQ: u16 = 2;
const DATA: u16 = 3;
const ACK: u16 = 4;
const ERROR: u16 = 5;
const OACK: u16 = 6;

/// The smallest and largest block sizes RFC 2348 allows.
pub const BLKSIZE_MIN: u16 = 8;
pub const BLKSIZE_MAX: u16 = 65464;
/// The block size without the option.
pub const BLKSIZE_DEFAULT: u16 = 512;

/// TFTP error codes (RFC 1350, 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    NotDefined = 0,
    FileNotFound = 1,
    AccessViolation = 2,
    IllegalOperation = 4,
    UnknownTransferId = 5,
    /// The client ends the transfer after an OACK (UEFI's size probe does).
    OptionRefused = 8,
}

/// A packet a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A read request.
    Read(Request<'a>),
    /// A write request (always refused: this server is read-only).
    Write(Request<'a>),
    Data {
        block: u16,
        data: &'a [u8],
    },
    Ack {
        block: u16,
    },
    Error {
        code: u16,
        message: String,
    },
    OptionAck,
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The file name as sent (bytes: TFTP names are not necessarily UTF-8).
    pub filename: &'a [u8],
    /// `octet`, `netascii` or `mail`, lower-cased.
    pub mode: Mode,
    pub options: Options,
}

/// The transfer mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Octet,
    Netascii,
    Mail,
}

/// The options of a request that this server knows; others are ignored (RFC 2347), and so
/// is an option whose value is out of its range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub blksize: Option<u16>,
    /// The client asks for the file's size (it sends 0 in a read request).
    pub tsize: Option<u64>,
    /// Seconds, 1 to 255.
    pub timeout: Option<u8>,
    /// Blocks sent before an acknowledgement, 1 to 65535.
    pub windowsize: Option<u16>,
}

impl Options {
    /// Whether the request carries any option we answer with an OACK.
    pub fn any(&self) -> bool {
        self.blksize.is_some()
            || self.tsize.is_some()
            || self.timeout.is_some()
            || self.windowsize.is_some()
    }
}

/// Why a packet did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    TooShort,
    UnknownOpcode(u16),
    /// A string field without its terminating zero byte.
    Unterminated,
    UnknownMode,
    /// A request without a file name.
    EmptyName,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => f.write_str("packet too short"),
            Self::UnknownOpcode(op) => write!(f, "unknown opcode {op}"),
            Self::Unterminated => f.write_str("a string is not terminated"),
            Self::UnknownMode => f.write_str("unknown transfer mode"),
            Self::EmptyName => f.write_str("no file name"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Splits `bytes` into zero-terminated strings; the last one must be terminated too.
fn strings(bytes: &[u8]) -> Result<Vec<&[u8]>, ParseError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    if bytes.last() != Some(&0) {
        return Err(ParseError::Unterminated);
    }
    Ok(bytes[..bytes.len() - 1].split(|b| *b == 0).collect())
}

/// A decimal option value, or `None` when it is not a plain number.
fn number(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn parse_request(body: &[u8]) -> Result<Request<'_>, ParseError> {
    let fields = strings(body)?;
    let (filename, mode) = match fields.as_slice() {
        [filename, mode, ..] => (*filename, *mode),
        _ => return Err(ParseError::Unterminated),
    };
    if filename.is_empty() {
        return Err(ParseError::EmptyName);
    }
    let mode = match mode.to_ascii_lowercase().as_slice() {
        b"octet" => Mode::Octet,
        b"netascii" => Mode::Netascii,
        b"mail" => Mode::Mail,
        _ => return Err(ParseError::UnknownMode),
    };
    let mut options = Options::default();
    // Options come in name/value pairs; a trailing name without a value is ignored.
    for pair in fields[2..].chunks_exact(2) {
        let (name, value) = (pair[0].to_ascii_lowercase(), number(pair[1]));
        match name.as_slice() {
            b"blksize" => {
                options.blksize = value
                    .filter(|v| (u64::from(BLKSIZE_MIN)..=u64::from(BLKSIZE_MAX)).contains(v))
                    .map(|v| v as u16);
            }
            b"tsize" => options.tsize = value,
            b"timeout" => {
                options.timeout = value.filter(|v| (1..=255).contains(v)).map(|v| v as u8);
            }
            b"windowsize" => {
                options.windowsize = value.filter(|v| (1..=65535).contains(v)).map(|v| v as u16);
            }
            _ => {}
        }
    }
    Ok(Request {
        filename,
        mode,
        options,
    })
}

/// Parses a packet a client sent.
pub fn parse(bytes: &[u8]) -> Result<Packet<'_>, ParseError> {
    if bytes.len() < 2 {
        return Err(ParseError::TooShort);
    }
    let opcode = u16::from_be_bytes([bytes[0], bytes[1]]);
    let body = &bytes[2..];
    let block = || {
        (body.len() >= 2)
            .then(|| u16::from_be_bytes([body[0], body[1]]))
            .ok_or(ParseError::TooShort)
    };
    match opcode {
        RRQ => parse_request(body).map(Packet::Read),
        WRQ => parse_request(body).map(Packet::Write),
        DATA => Ok(Packet::Data {
            block: block()?,
            data: &body[2..],
        }),
        ACK => Ok(Packet::Ack { block: block()? }),
        ERROR => {
            let code = block()?;
            let text = body[2..].split(|b| *b == 0).next().unwrap_or_default();
            Ok(Packet::Error {
                code,
                message: String::from_utf8_lossy(text).into_owned(),
            })
        }
        OACK => Ok(Packet::OptionAck),
        other => Err(ParseError::UnknownOpcode(other)),
    }
}

/// Writes a DATA packet into `out` (cleared first).
pub fn data(out: &mut Vec<u8>, block: u16, payload: &[u8]) {
    out.clear();
    out.extend_from_slice(&DATA.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(payload);
}

/// An ERROR packet.
pub fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.extend_from_slice(&ERROR.to_be_bytes());
    out.extend_from_slice(&(code as u16).to_be_bytes());
    out.extend(message.bytes().filter(|b| *b != 0));
    out.push(0);
    out
}

/// An OACK packet with the options we accepted, in a fixed order.
pub fn option_ack(accepted: &Options) -> Vec<u8> {
    let mut out = OACK.to_be_bytes().to_vec();
    let mut put = |name: &str, value: u64| {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value.to_string().as_bytes());
        out.push(0);
    };
    if let Some(v) = accepted.blksize {
        put("blksize", v.into());
    }
    if let Some(v) = accepted.tsize {
        put("tsize", v);
    }
    if let Some(v) = accepted.timeout {
        put("timeout", v.into());
    }
    if let Some(v) = accepted.windowsize {
        put("windowsize", v.into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrq(fields: &[&str]) -> Vec<u8> {
        let mut out = RRQ.to_be_bytes().to_vec();
        for field in fields {
            out.extend_from_slice(field.as_bytes());
            out.push(0);
        }
        out
    }

    #[test]
    fn a_read_request_with_options_parses_case_insensitively() {
        let bytes = rrq(&[
            "snponly.efi",
            "OCTET",
            "BlkSize",
            "1468",
            "tsize",
            "0",
            "timeout",
            "3",
            "windowsize",
            "4",
            "multicast",
            "",
        ]);
        let Packet::Read(request) = parse(&bytes).unwrap() else {
            panic!("not a read request");
        };
        assert_eq!(request.filename, b"snponly.efi");
        assert_eq!(request.mode, Mode::Octet);
        assert_eq!(
            request.options,
            Options {
                blksize: Some(1468),
                tsize: Some(0),
                timeout: Some(3),
                windowsize: Some(4),
            }
        );
    }

    #[test]
    fn out_of_range_or_malformed_option_values_are_ignored() {
        let bytes = rrq(&[
            "f",
            "octet",
            "blksize",
            "7",
            "timeout",
            "0",
            "windowsize",
            "65536",
            "tsize",
            "-1",
        ]);
        let Packet::Read(request) = parse(&bytes).unwrap() else {
            panic!("not a read request");
        };
        assert!(!request.options.any());
        let bytes = rrq(&["f", "octet", "blksize", "99999999999999999999999"]);
        assert!(matches!(parse(&bytes), Ok(Packet::Read(r)) if r.options.blksize.is_none()));
    }

    #[test]
    fn broken_packets_are_errors_not_panics() {
        assert_eq!(parse(&[]), Err(ParseError::TooShort));
        assert_eq!(parse(&[0, 1]), Err(ParseError::Unterminated));
        assert_eq!(parse(&[0, 1, b'f']), Err(ParseError::Unterminated));
        assert_eq!(parse(&[0, 1, b'f', 0]), Err(ParseError::Unterminated));
        assert_eq!(parse(&rrq(&["", "octet"])), Err(ParseError::EmptyName));
        assert_eq!(parse(&rrq(&["f", "binary"])), Err(ParseError::UnknownMode));
        assert_eq!(parse(&[0, 9, 0, 0]), Err(ParseError::UnknownOpcode(9)));
        assert_eq!(parse(&[0, 4, 1]), Err(ParseError::TooShort));
        assert_eq!(parse(&[0, 4, 1, 2]), Ok(Packet::Ack { block: 258 }));
    }

    #[test]
    fn written_packets_read_back() {
        let mut out = Vec::new();
        data(&mut out, 7, b"abc");
        assert_eq!(out, [0, 3, 0, 7, b'a', b'b', b'c']);
        assert_eq!(
            parse(&error(ErrorCode::FileNotFound, "no\0such file")),
            Ok(Packet::Error {
                code: 1,
                message: "nosuch file".into()
            })
        );
        let oack = option_ack(&Options {
            blksize: Some(1456),
            tsize: Some(1024),
            timeout: None,
            windowsize: Some(8),
        });
        assert_eq!(
            oack,
            b"\x00\x06blksize\x001456\x00tsize\x001024\x00windowsize\x008\x00"
        );
    }
}
