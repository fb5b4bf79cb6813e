//! Configuration for the site's own DHCP server, for sites that cannot run ProxyDHCP next
//! to it: the same decisions ProxyDHCP makes (`server::dhcp::policy`), written in each DHCP
//! server's language. iPXE (user class `iPXE`, or option 175) is sent to `/boot.ipxe` over
//! HTTP, so it never loads a loader again; BIOS PXE firmware gets `undionly.kpxe` and x86-64
//! UEFI `snponly.efi` over TFTP from this server; UEFI HTTP Boot (`HTTPClient`) gets the
//! loader's URL.
//!
//! dnsmasq's and ISC dhcpd's are proven with real firmware in `end2end/pxe`.

use std::{fmt, net::Ipv4Addr};

/// The DHCP servers PXE Cloud writes configuration for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpServer {
    Dnsmasq,
    IscDhcpd,
}

impl DhcpServer {
    pub const ALL: [Self; 2] = [Self::Dnsmasq, Self::IscDhcpd];

    /// The name used on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Self::Dnsmasq => "dnsmasq",
            Self::IscDhcpd => "isc-dhcpd",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|server| server.id() == id)
    }

    /// Where the lines go.
    pub fn placement(self) -> &'static str {
        match self {
            Self::Dnsmasq => "a file in /etc/dnsmasq.d/ (or dnsmasq.conf), then restart dnsmasq",
            Self::IscDhcpd => {
                "/etc/dhcp/dhcpd.conf: the option line at the top level, the rest in the subnet \
                 the machines boot in (or at the top level), then restart isc-dhcp-server"
            }
        }
    }
}

impl fmt::Display for DhcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Dnsmasq => "dnsmasq",
            Self::IscDhcpd => "ISC dhcpd",
        })
    }
}

/// Where machines are sent: this server's IPv4 address (TFTP) and the base URL of its boot
/// flow (plain HTTP, which every iPXE speaks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootServer {
    pub address: Ipv4Addr,
    pub http_base: String,
}

impl BootServer {
    /// `http://<address>:<port>`, or the public URL when it is plain HTTP.
    pub fn new(address: Ipv4Addr, http_port: u16, public_url: Option<&str>) -> Self {
        let http_base = public_url
            .filter(|url| url.starts_with("http://"))
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{address}:{http_port}"));
        Self { address, http_base }
    }
}

/// The configuration to add to `server`'s.
pub fn snippet(server: DhcpServer, boot: &BootServer) -> String {
    let BootServer { address, http_base } = boot;
    let script = format!("{http_base}/boot.ipxe");
    let http_loader = format!("{http_base}/loaders/snponly.efi");
    match server {
        DhcpServer::Dnsmasq => format!(
            "# PXE Cloud: network boot from {address}\n\
             # iPXE says so in its user class and option 175: send it to the boot flow.\n\
             # Every answer names this server (next-server): iPXE's autoexec.ipxe goes there.\n\
             dhcp-userclass=set:pxecloud-ipxe,iPXE\n\
             dhcp-match=set:pxecloud-ipxe,175\n\
             dhcp-match=set:pxecloud-bios,option:client-arch,0\n\
             dhcp-match=set:pxecloud-efi64,option:client-arch,7\n\
             dhcp-match=set:pxecloud-efi64,option:client-arch,9\n\
             dhcp-vendorclass=set:pxecloud-http,HTTPClient\n\
             dhcp-boot=tag:pxecloud-ipxe,{script},,{address}\n\
             dhcp-boot=tag:!pxecloud-ipxe,tag:pxecloud-bios,undionly.kpxe,,{address}\n\
             dhcp-boot=tag:!pxecloud-ipxe,tag:!pxecloud-http,tag:pxecloud-efi64,snponly.efi,,{address}\n\
             # UEFI HTTP Boot: the loader over HTTP; the firmware wants HTTPClient back.\n\
             dhcp-option-force=tag:pxecloud-http,60,HTTPClient\n\
             dhcp-boot=tag:pxecloud-http,{http_loader},,{address}\n"
        ),
        DhcpServer::IscDhcpd => format!(
            "# PXE Cloud: network boot from {address}\n\
             option pxecloud-arch code 93 = unsigned integer 16;\n\
             \n\
             next-server {address};\n\
             if exists user-class and option user-class = \"iPXE\" {{\n\
             \x20   # iPXE runs already: to the boot flow, never a loader again.\n\
             \x20   filename \"{script}\";\n\
             }} elsif substring (option vendor-class-identifier, 0, 10) = \"HTTPClient\" {{\n\
             \x20   # UEFI HTTP Boot: the loader over HTTP; the firmware wants HTTPClient back.\n\
             \x20   option vendor-class-identifier \"HTTPClient\";\n\
             \x20   filename \"{http_loader}\";\n\
             }} elsif option pxecloud-arch = 00:07 or option pxecloud-arch = 00:09 {{\n\
             \x20   filename \"snponly.efi\";\n\
             }} elsif option pxecloud-arch = 00:00 {{\n\
             \x20   filename \"undionly.kpxe\";\n\
             }}\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot() -> BootServer {
        BootServer::new(Ipv4Addr::new(10, 0, 0, 2), 8080, None)
    }

    #[test]
    fn the_base_url_is_the_plain_http_public_url_or_the_address() {
        assert_eq!(boot().http_base, "http://10.0.0.2:8080");
        let public = BootServer::new(Ipv4Addr::new(10, 0, 0, 2), 8080, Some("http://boot.lan/"));
        assert_eq!(public.http_base, "http://boot.lan");
        // iPXE of 2019 speaks no HTTPS: an HTTPS public URL is not used for it.
        let https = BootServer::new(Ipv4Addr::new(10, 0, 0, 2), 80, Some("https://boot.lan"));
        assert_eq!(https.http_base, "http://10.0.0.2:80");
    }

    #[test]
    fn every_snippet_sends_ipxe_to_the_boot_flow_and_firmware_to_the_loaders() {
        for server in DhcpServer::ALL {
            let text = snippet(server, &boot());
            assert!(text.contains("http://10.0.0.2:8080/boot.ipxe"), "{server}");
            assert!(
                text.contains("http://10.0.0.2:8080/loaders/snponly.efi"),
                "{server}"
            );
            assert!(text.contains("undionly.kpxe"), "{server}");
            assert!(text.contains("snponly.efi"), "{server}");
            assert!(text.contains("10.0.0.2"), "{server}");
            assert_eq!(DhcpServer::from_id(server.id()), Some(server));
        }
        assert_eq!(DhcpServer::from_id("nope"), None);
    }
}
