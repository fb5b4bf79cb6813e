//! An IPv4 UDP socket that knows, for each packet, the interface it came in on and the
//! address it was sent to (`IP_PKTINFO`), and sends each reply out of a chosen interface
//! from a chosen address. ProxyDHCP uses it so that a broadcast reply leaves from the
//! interface its request came in on; TFTP, to answer from the address a client asked and to
//! tell iPXE where this server is, on a host with several networks.

use std::{
    io::{self, IoSlice, IoSliceMut},
    net::{Ipv4Addr, SocketAddrV4},
    os::fd::AsRawFd,
};

use nix::{
    libc,
    sys::socket::{
        ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn, recvmsg, sendmsg, setsockopt,
        sockopt,
    },
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::{io::Interest, net::UdpSocket};

/// A packet received, and where it came from and went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    pub source: SocketAddrV4,
    /// The index of the interface it came in on (0 when the kernel did not say).
    pub interface: u32,
    /// The destination address in its IP header (255.255.255.255 for a broadcast).
    pub destination: Ipv4Addr,
}

/// Where a reply leaves from: an interface and the source address to give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via {
    pub interface: u32,
    pub source: Ipv4Addr,
}

pub struct PacketInfoSocket {
    inner: UdpSocket,
}

impl PacketInfoSocket {
    /// Binds `address` with `IP_PKTINFO` on, and broadcasts allowed when asked. Not
    /// `SO_REUSEADDR`: a server already on the port is an error to report, not a port to
    /// share.
    pub fn bind(address: SocketAddrV4, broadcast: bool) -> io::Result<Self> {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_broadcast(broadcast)?;
        socket.set_nonblocking(true)?;
        setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)?;
        socket.bind(&address.into())?;
        Ok(Self {
            inner: UdpSocket::from_std(socket.into())?,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        match self.inner.local_addr()? {
            std::net::SocketAddr::V4(address) => Ok(address),
            std::net::SocketAddr::V6(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Waits for the next packet.
    pub async fn recv(&self, buffer: &mut [u8]) -> io::Result<Received> {
        let fd = self.inner.as_raw_fd();
        self.inner
            .async_io(Interest::READABLE, || {
                let mut iov = [IoSliceMut::new(buffer)];
                let mut control = nix::cmsg_space!(libc::in_pktinfo);
                let message =
                    recvmsg::<SockaddrIn>(fd, &mut iov, Some(&mut control), MsgFlags::MSG_TRUNC)?;
                let source = message
                    .address
                    .map(SocketAddrV4::from)
                    .ok_or(io::ErrorKind::InvalidData)?;
                let mut received = Received {
                    len: message.bytes,
                    source,
                    interface: 0,
                    destination: Ipv4Addr::UNSPECIFIED,
                };
                for control in message.cmsgs()? {
                    if let ControlMessageOwned::Ipv4PacketInfo(info) = control {
                        received.interface = u32::try_from(info.ipi_ifindex).unwrap_or(0);
                        received.destination = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                    }
                }
                Ok(received)
            })
            .await
    }

    /// Sends `bytes` to `to` plainly.
    pub async fn send_to(&self, bytes: &[u8], to: SocketAddrV4) -> io::Result<()> {
        self.send(bytes, to, None).await
    }

    /// Sends `bytes` to `to`, out of `via`'s interface from its address when given.
    pub async fn send(&self, bytes: &[u8], to: SocketAddrV4, via: Option<Via>) -> io::Result<()> {
        let fd = self.inner.as_raw_fd();
        let info = via.map(|via| libc::in_pktinfo {
            ipi_ifindex: i32::try_from(via.interface).unwrap_or(0),
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(via.source).to_be(),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        });
        let to = SockaddrIn::from(to);
        self.inner
            .async_io(Interest::WRITABLE, || {
                let iov = [IoSlice::new(bytes)];
                let control: Vec<ControlMessage> =
                    info.iter().map(ControlMessage::Ipv4PacketInfo).collect();
                sendmsg(fd, &iov, &control, MsgFlags::empty(), Some(&to))?;
                Ok(())
            })
            .await
    }
}
