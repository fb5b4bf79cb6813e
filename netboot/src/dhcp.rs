//! DHCP messages (RFC 2131, options RFC 2132) as PXE clients send them, with the options a
//! boot server reads: 53 message type, 60 vendor class (`PXEClient…`, `HTTPClient…`),
//! 77 user class (`iPXE`), 93 client architecture (RFC 4578), 97 client machine id, and 175
//! (iPXE's encapsulated options). Parsing never panics; a message that does not parse is
//! ignored and counted by the caller, never answered.

use std::{fmt, net::Ipv4Addr};

/// The fixed part of a message, before the options.
const FIXED: usize = 236;
const MAGIC: [u8; 4] = [99, 130, 83, 99];
/// The smallest message we send (BOOTP's 300 bytes: some firmware drops shorter ones).
const MIN_SIZE: usize = 300;

/// Option codes used here.
pub mod code {
    pub const PAD: u8 = 0;
    pub const SERVER_ID: u8 = 54;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const PARAMETER_LIST: u8 = 55;
    pub const VENDOR_CLASS: u8 = 60;
    pub const TFTP_SERVER: u8 = 66;
    pub const BOOTFILE: u8 = 67;
    pub const VENDOR_SPECIFIC: u8 = 43;
    pub const USER_CLASS: u8 = 77;
    pub const CLIENT_ARCH: u8 = 93;
    pub const CLIENT_NDI: u8 = 94;
    pub const MACHINE_ID: u8 = 97;
    pub const IPXE: u8 = 175;
    pub const END: u8 = 255;
}

/// BOOTREQUEST and BOOTREPLY.
pub const BOOTREQUEST: u8 = 1;
pub const BOOTREPLY: u8 = 2;

/// The message types a boot server meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Discover,
    Offer,
    Request,
    Decline,
    Ack,
    Nak,
    Release,
    Inform,
    Other(u8),
}

impl MessageType {
    fn from_byte(byte: u8) -> Self {
        match byte {
            1 => Self::Discover,
            2 => Self::Offer,
            3 => Self::Request,
            4 => Self::Decline,
            5 => Self::Ack,
            6 => Self::Nak,
            7 => Self::Release,
            8 => Self::Inform,
            other => Self::Other(other),
        }
    }

    fn byte(self) -> u8 {
        match self {
            Self::Discover => 1,
            Self::Offer => 2,
            Self::Request => 3,
            Self::Decline => 4,
            Self::Ack => 5,
            Self::Nak => 6,
            Self::Release => 7,
            Self::Inform => 8,
            Self::Other(other) => other,
        }
    }
}

/// A DHCP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub op: u8,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 16],
    /// The server host name field (zero-padded).
    pub sname: Vec<u8>,
    /// The boot file name field (zero-padded).
    pub file: Vec<u8>,
    /// The options in the order they came, each code once (a repeated code is
    /// concatenated, RFC 3396).
    pub options: Vec<(u8, Vec<u8>)>,
}

/// Why a message did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    TooShort,
    NoMagicCookie,
    /// An option whose length runs past the end of the message.
    TruncatedOption,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooShort => "shorter than a DHCP message",
            Self::NoMagicCookie => "no DHCP magic cookie",
            Self::TruncatedOption => "an option runs past the end",
        })
    }
}

impl std::error::Error for ParseError {}

fn ipv4(bytes: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
}

/// Reads options from `bytes` into `options` until END or the end of the bytes.
fn read_options(bytes: &[u8], options: &mut Vec<(u8, Vec<u8>)>) -> Result<(), ParseError> {
    let mut at = 0;
    while at < bytes.len() {
        let code = bytes[at];
        at += 1;
        match code {
            code::PAD => continue,
            code::END => return Ok(()),
            _ => {}
        }
        let len = usize::from(*bytes.get(at).ok_or(ParseError::TruncatedOption)?);
        at += 1;
        let value = bytes.get(at..at + len).ok_or(ParseError::TruncatedOption)?;
        at += len;
        match options.iter_mut().find(|(c, _)| *c == code) {
            Some((_, existing)) => existing.extend_from_slice(value),
            None => options.push((code, value.to_vec())),
        }
    }
    Ok(())
}

impl Message {
    /// Parses a message as it came off the wire.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() < FIXED + MAGIC.len() {
            return Err(ParseError::TooShort);
        }
        if bytes[FIXED..FIXED + 4] != MAGIC {
            return Err(ParseError::NoMagicCookie);
        }
        let mut options = Vec::new();
        read_options(&bytes[FIXED + 4..], &mut options)?;
        let mut sname = bytes[44..108].to_vec();
        let mut file = bytes[108..236].to_vec();
        // Option 52: the file and sname fields carry more options.
        if let Some(overload) = options
            .iter()
            .find(|(c, _)| *c == code::OVERLOAD)
            .and_then(|(_, v)| v.first().copied())
        {
            if overload & 1 != 0 {
                read_options(&bytes[108..236], &mut options)?;
                file.fill(0);
            }
            if overload & 2 != 0 {
                read_options(&bytes[44..108], &mut options)?;
                sname.fill(0);
            }
        }
        let mut chaddr = [0u8; 16];
        chaddr.copy_from_slice(&bytes[28..44]);
        Ok(Self {
            op: bytes[0],
            htype: bytes[1],
            hlen: bytes[2],
            hops: bytes[3],
            xid: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            secs: u16::from_be_bytes([bytes[8], bytes[9]]),
            flags: u16::from_be_bytes([bytes[10], bytes[11]]),
            ciaddr: ipv4(&bytes[12..16]),
            yiaddr: ipv4(&bytes[16..20]),
            siaddr: ipv4(&bytes[20..24]),
            giaddr: ipv4(&bytes[24..28]),
            chaddr,
            sname,
            file,
            options,
        })
    }

    /// The value of option `code`.
    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    /// Sets option `code`, replacing an earlier value.
    pub fn set_option(&mut self, code: u8, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self.options.iter_mut().find(|(c, _)| *c == code) {
            Some((_, existing)) => *existing = value,
            None => self.options.push((code, value)),
        }
    }

    pub fn message_type(&self) -> Option<MessageType> {
        self.option(code::MESSAGE_TYPE)
            .and_then(|v| v.first())
            .map(|b| MessageType::from_byte(*b))
    }

    /// The client's hardware address (`hlen` bytes of `chaddr`, at most 16).
    pub fn hardware_address(&self) -> &[u8] {
        &self.chaddr[..usize::from(self.hlen.min(16))]
    }

    /// Option 60, the vendor class (`PXEClient:Arch:00007:UNDI:003016`, `HTTPClient…`).
    pub fn vendor_class(&self) -> Option<&[u8]> {
        self.option(code::VENDOR_CLASS)
    }

    /// The client's boot mode, from its vendor class: PXE, UEFI HTTP Boot, or neither.
    pub fn boot_client(&self) -> Option<BootClient> {
        let class = self.vendor_class()?;
        if class.starts_with(b"PXEClient") {
            Some(BootClient::Pxe)
        } else if class.starts_with(b"HTTPClient") {
            Some(BootClient::Http)
        } else {
            None
        }
    }

    /// The client architecture: option 93 (its first type), else the `Arch:NNNNN` of the
    /// vendor class (firmware that sends no usable option 93 still says it there).
    pub fn client_arch(&self) -> Option<u16> {
        if let Some(value) = self.option(code::CLIENT_ARCH)
            && value.len() >= 2
        {
            return Some(u16::from_be_bytes([value[0], value[1]]));
        }
        let class = std::str::from_utf8(self.vendor_class()?).ok()?;
        let arch = class.split(':').skip_while(|p| *p != "Arch").nth(1)?;
        arch.parse().ok()
    }

    /// Whether the client is iPXE: user class `iPXE` (option 77, either as a bare string or
    /// as RFC 3004 length-prefixed classes) or iPXE's option 175.
    pub fn is_ipxe(&self) -> bool {
        if self.option(code::IPXE).is_some() {
            return true;
        }
        let Some(class) = self.option(code::USER_CLASS) else {
            return false;
        };
        if class == b"iPXE" {
            return true;
        }
        let mut at = 0;
        while let Some(&len) = class.get(at) {
            let len = usize::from(len);
            if class.get(at + 1..at + 1 + len) == Some(b"iPXE") {
                return true;
            }
            at += 1 + len;
        }
        false
    }

    /// Writes the message: the fixed part, the cookie, the options, END, padded to 300 bytes.
    pub fn write(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MIN_SIZE + 64);
        out.extend_from_slice(&[self.op, self.htype, self.hlen, self.hops]);
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&self.secs.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        for address in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            out.extend_from_slice(&address.octets());
        }
        out.extend_from_slice(&self.chaddr);
        let mut field = |bytes: &[u8], size: usize| {
            let take = bytes.len().min(size);
            out.extend_from_slice(&bytes[..take]);
            out.resize(out.len() + size - take, 0);
        };
        field(&self.sname, 64);
        field(&self.file, 128);
        out.extend_from_slice(&MAGIC);
        for (code, value) in &self.options {
            // Values longer than 255 bytes are split into several options (RFC 3396).
            for chunk in value.chunks(255) {
                out.push(*code);
                out.push(chunk.len() as u8);
                out.extend_from_slice(chunk);
            }
            if value.is_empty() {
                out.extend_from_slice(&[*code, 0]);
            }
        }
        out.push(code::END);
        if out.len() < MIN_SIZE {
            out.resize(MIN_SIZE, 0);
        }
        out
    }

    /// A reply to this request: same xid, flags, giaddr and hardware address; no options
    /// but the message type.
    pub fn reply(&self, kind: MessageType) -> Self {
        Self {
            op: BOOTREPLY,
            htype: self.htype,
            hlen: self.hlen,
            hops: 0,
            xid: self.xid,
            secs: 0,
            flags: self.flags,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: self.giaddr,
            chaddr: self.chaddr,
            sname: Vec::new(),
            file: Vec::new(),
            options: vec![(code::MESSAGE_TYPE, vec![kind.byte()])],
        }
    }
}

/// How a client boots from the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootClient {
    /// Firmware PXE (vendor class `PXEClient`): fetches a loader over TFTP.
    Pxe,
    /// UEFI HTTP Boot (vendor class `HTTPClient`): fetches a loader by URL.
    Http,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DISCOVER as OVMF's PXE sends it (the fields that matter).
    fn discover(options: &[(u8, &[u8])]) -> Vec<u8> {
        let mut message = Message {
            op: BOOTREQUEST,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid: 0x1234_5678,
            secs: 4,
            flags: 0x8000,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr: [
                0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            sname: Vec::new(),
            file: Vec::new(),
            options: vec![(code::MESSAGE_TYPE, vec![1])],
        };
        for (code, value) in options {
            message.set_option(*code, *value);
        }
        message.write()
    }

    #[test]
    fn a_pxe_discover_reads_back_with_its_boot_options() {
        let bytes = discover(&[
            (code::VENDOR_CLASS, b"PXEClient:Arch:00007:UNDI:003016"),
            (code::CLIENT_ARCH, &[0, 7]),
            (code::MACHINE_ID, &[0; 17]),
        ]);
        // A short message is padded to BOOTP's 300 bytes; a longer one is not cut.
        assert_eq!(discover(&[]).len(), MIN_SIZE);
        assert_eq!(bytes.len(), 240 + 3 + 34 + 4 + 19 + 1);
        let message = Message::parse(&bytes).unwrap();
        assert_eq!(message.message_type(), Some(MessageType::Discover));
        assert_eq!(message.xid, 0x1234_5678);
        assert_eq!(
            message.hardware_address(),
            [0x52, 0x54, 0, 0x12, 0x34, 0x56]
        );
        assert_eq!(message.boot_client(), Some(BootClient::Pxe));
        assert_eq!(message.client_arch(), Some(7));
        assert!(!message.is_ipxe());
        assert_eq!(message.option(code::MACHINE_ID), Some(&[0u8; 17][..]));
    }

    #[test]
    fn the_architecture_falls_back_to_the_vendor_class() {
        let bytes = discover(&[(code::VENDOR_CLASS, b"PXEClient:Arch:00011:UNDI:003016")]);
        assert_eq!(Message::parse(&bytes).unwrap().client_arch(), Some(11));
        let http = discover(&[(code::VENDOR_CLASS, b"HTTPClient:Arch:00016:UNDI:003001")]);
        let message = Message::parse(&http).unwrap();
        assert_eq!(
            (message.boot_client(), message.client_arch()),
            (Some(BootClient::Http), Some(16))
        );
        let other = discover(&[(code::VENDOR_CLASS, b"MSFT 5.0")]);
        assert_eq!(Message::parse(&other).unwrap().boot_client(), None);
    }

    #[test]
    fn ipxe_is_known_by_its_user_class_or_option_175() {
        let plain = discover(&[(code::USER_CLASS, b"iPXE")]);
        assert!(Message::parse(&plain).unwrap().is_ipxe());
        let rfc3004 = discover(&[(code::USER_CLASS, b"\x04iPXE")]);
        assert!(Message::parse(&rfc3004).unwrap().is_ipxe());
        let encapsulated = discover(&[(code::IPXE, b"\x13\x01\x01")]);
        assert!(Message::parse(&encapsulated).unwrap().is_ipxe());
        let other = discover(&[(code::USER_CLASS, b"\x05other")]);
        assert!(!Message::parse(&other).unwrap().is_ipxe());
    }

    #[test]
    fn broken_messages_are_errors_not_panics() {
        assert_eq!(Message::parse(&[]), Err(ParseError::TooShort));
        let mut bytes = discover(&[]);
        bytes[236] = 0;
        assert_eq!(Message::parse(&bytes), Err(ParseError::NoMagicCookie));
        let mut truncated = discover(&[]);
        truncated.truncate(240);
        truncated.extend_from_slice(&[code::VENDOR_CLASS, 200, b'P']);
        assert_eq!(Message::parse(&truncated), Err(ParseError::TruncatedOption));
        // No END: the options simply stop with the message.
        let mut open = discover(&[]);
        open.truncate(243);
        assert!(Message::parse(&open).is_ok());
    }

    #[test]
    fn long_and_repeated_options_are_split_and_joined() {
        let long = vec![b'x'; 300];
        let mut message = Message::parse(&discover(&[])).unwrap();
        message.set_option(code::BOOTFILE, long.clone());
        let again = Message::parse(&message.write()).unwrap();
        assert_eq!(again.option(code::BOOTFILE), Some(long.as_slice()));
    }

    #[test]
    fn a_reply_keeps_what_the_client_matches_on() {
        let request = Message::parse(&discover(&[])).unwrap();
        let reply = request.reply(MessageType::Offer);
        assert_eq!(
            (reply.op, reply.xid, reply.flags, reply.chaddr),
            (BOOTREPLY, request.xid, request.flags, request.chaddr)
        );
        assert_eq!(
            Message::parse(&reply.write()).unwrap().message_type(),
            Some(MessageType::Offer)
        );
    }
}
