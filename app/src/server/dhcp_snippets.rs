//! Configuration for the site's own DHCP server, for sites that cannot run ProxyDHCP next
//! to it: the same decisions ProxyDHCP makes (`server::dhcp::policy`), written in each DHCP
//! server's language. iPXE (user class `iPXE`, or option 175) is sent to `/boot.ipxe` over
//! HTTP, so it never loads a loader again; BIOS PXE firmware gets `undionly.kpxe` and x86-64
//! UEFI `snponly.efi` over TFTP from this server; UEFI HTTP Boot (`HTTPClient`) gets the
//! loader's URL.
//!
//! dnsmasq's, ISC dhcpd's and Kea's are proven with real firmware in `end2end/pxe`; Windows
//! DHCP's and MikroTik's are written from their vendors' documentation (neither runs here).
//!
//! A loader fetched over TFTP runs the `autoexec.ipxe` of the server it came from, which
//! chains to the boot flow whatever the DHCP answer names: a DHCP server that cannot tell
//! iPXE from firmware still boots machines, at the cost of loading the loader twice.

use std::{fmt, net::Ipv4Addr};

use crate::model::LoaderArch;

/// The DHCP servers PXE Cloud writes configuration for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpServer {
    Dnsmasq,
    IscDhcpd,
    Kea,
    Windows,
    MikroTik,
}

impl DhcpServer {
    pub const ALL: [Self; 5] = [
        Self::Dnsmasq,
        Self::IscDhcpd,
        Self::Kea,
        Self::Windows,
        Self::MikroTik,
    ];

    /// The name used on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Self::Dnsmasq => "dnsmasq",
            Self::IscDhcpd => "isc-dhcpd",
            Self::Kea => "kea",
            Self::Windows => "windows",
            Self::MikroTik => "mikrotik",
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
            Self::Kea => {
                "/etc/kea/kea-dhcp4.conf, inside the \"Dhcp4\" map before another key (merge \
                 the classes into \"client-classes\" if it has one; no option 66 or 67 on the \
                 subnet: a subnet's options win over a class's), then restart kea-dhcp4-server"
            }
            Self::Windows => {
                "a PowerShell window on the DHCP server, as an administrator (server-wide \
                 policies; add -ScopeId to each command for one scope, and remove the scope's \
                 own options 60, 66 and 67)"
            }
            Self::MikroTik => "the RouterOS 7.16 (or later) terminal of the router",
        }
    }
}

impl fmt::Display for DhcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Dnsmasq => "dnsmasq",
            Self::IscDhcpd => "ISC dhcpd",
            Self::Kea => "ISC Kea",
            Self::Windows => "Windows Server DHCP",
            Self::MikroTik => "MikroTik RouterOS",
        })
    }
}

/// Where machines are sent: this server's IPv4 address (TFTP) and the base URL of its boot
/// flow (plain HTTP, which every iPXE speaks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootServer {
    pub address: Ipv4Addr,
    pub http_base: String,
    /// The loaders BIOS and x86-64 UEFI firmware are sent to (the built-in ones, or those a
    /// server admin chose).
    pub bios_loader: String,
    pub efi64_loader: String,
}

impl BootServer {
    /// `http://<address>:<port>`, or the public URL when it is plain HTTP.
    pub fn new(address: Ipv4Addr, http_port: u16, public_url: Option<&str>) -> Self {
        let http_base = public_url
            .filter(|url| url.starts_with("http://"))
            .map(|url| url.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{address}:{http_port}"));
        Self {
            address,
            http_base,
            bios_loader: LoaderArch::Bios.builtin().to_owned(),
            efi64_loader: LoaderArch::X64Uefi.builtin().to_owned(),
        }
    }
}

/// The configuration to add to `server`'s.
pub fn snippet(server: DhcpServer, boot: &BootServer) -> String {
    let BootServer {
        address,
        http_base,
        bios_loader: bios,
        efi64_loader: efi64,
    } = boot;
    let script = format!("{http_base}/boot.ipxe");
    let http_loader = format!("{http_base}/loaders/{efi64}");
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
             dhcp-boot=tag:!pxecloud-ipxe,tag:pxecloud-bios,{bios},,{address}\n\
             dhcp-boot=tag:!pxecloud-ipxe,tag:!pxecloud-http,tag:pxecloud-efi64,{efi64},,{address}\n\
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
             \x20   filename \"{efi64}\";\n\
             }} elsif option pxecloud-arch = 00:00 {{\n\
             \x20   filename \"{bios}\";\n\
             }}\n"
        ),
        DhcpServer::Kea => format!(
            "// PXE Cloud: network boot from {address}\n\
             // Classes are tried in this order; the first that names a boot file wins, and each\n\
             // is kept apart from those above it so that their options do not mix.\n\
             \"client-classes\": [\n\
             \x20 {{\n\
             \x20   // iPXE runs already: to the boot flow, never a loader again.\n\
             \x20   \"name\": \"pxecloud-ipxe\",\n\
             \x20   \"test\": \"option[77].hex == 'iPXE' or option[175].exists\",\n\
             \x20   \"next-server\": \"{address}\",\n\
             \x20   \"boot-file-name\": \"{script}\"\n\
             \x20 }},\n\
             \x20 {{\n\
             \x20   // UEFI HTTP Boot: the loader over HTTP; the firmware wants HTTPClient back.\n\
             \x20   \"name\": \"pxecloud-http\",\n\
             \x20   \"test\": \"not member('pxecloud-ipxe') and substring(option[60].hex, 0, 10) == 'HTTPClient'\",\n\
             \x20   \"boot-file-name\": \"{http_loader}\",\n\
             \x20   \"option-data\": [\n\
             \x20     {{ \"name\": \"vendor-class-identifier\", \"data\": \"HTTPClient\", \"always-send\": true }}\n\
             \x20   ]\n\
             \x20 }},\n\
             \x20 {{\n\
             \x20   \"name\": \"pxecloud-efi64\",\n\
             \x20   \"test\": \"not member('pxecloud-ipxe') and not member('pxecloud-http') and (option[93].hex == 0x0007 or option[93].hex == 0x0009)\",\n\
             \x20   \"next-server\": \"{address}\",\n\
             \x20   \"boot-file-name\": \"{efi64}\"\n\
             \x20 }},\n\
             \x20 {{\n\
             \x20   \"name\": \"pxecloud-bios\",\n\
             \x20   \"test\": \"not member('pxecloud-ipxe') and option[93].hex == 0x0000\",\n\
             \x20   \"next-server\": \"{address}\",\n\
             \x20   \"boot-file-name\": \"{bios}\"\n\
             \x20 }}\n\
             ],\n"
        ),
        DhcpServer::Windows => format!(
            "# PXE Cloud: network boot from {address}\n\
             # Option 60 has no definition on Windows until one is added (skip it if it exists).\n\
             Add-DhcpServerv4OptionDefinition -OptionId 60 -Name \"PXEClient\" -Type String\n\
             Add-DhcpServerv4Class -Name \"iPXE\" -Type User -Data \"iPXE\"\n\
             Add-DhcpServerv4Class -Name \"HTTPClient\" -Type Vendor -Data \"HTTPClient\"\n\
             Add-DhcpServerv4Class -Name \"PXEClient (UEFI x64)\" -Type Vendor -Data \"PXEClient:Arch:00007\"\n\
             Add-DhcpServerv4Class -Name \"PXEClient (EFI BC)\" -Type Vendor -Data \"PXEClient:Arch:00009\"\n\
             Add-DhcpServerv4Class -Name \"PXEClient (BIOS)\" -Type Vendor -Data \"PXEClient:Arch:00000\"\n\
             \n\
             # iPXE runs already: to the boot flow, never a loader again.\n\
             Add-DhcpServerv4Policy -Name \"PXE Cloud iPXE\" -Condition Or -UserClass EQ,\"iPXE\" -ProcessingOrder 1\n\
             Set-DhcpServerv4OptionValue -PolicyName \"PXE Cloud iPXE\" -OptionId 66 -Value \"{address}\"\n\
             Set-DhcpServerv4OptionValue -PolicyName \"PXE Cloud iPXE\" -OptionId 67 -Value \"{script}\"\n\
             \n\
             # UEFI HTTP Boot: the loader over HTTP; the firmware wants HTTPClient back.\n\
             Add-DhcpServerv4Policy -Name \"PXE Cloud HTTP Boot\" -Condition Or -VendorClass EQ,\"HTTPClient*\" -ProcessingOrder 2\n\
             Set-DhcpServerv4OptionValue -PolicyName \"PXE Cloud HTTP Boot\" -OptionId 60 -Value \"HTTPClient\"\n\
             Set-DhcpServerv4OptionValue -PolicyName \"PXE Cloud HTTP Boot\" -OptionId 67 -Value \"{http_loader}\"\n\
             \n\
             Add-DhcpServerv4Policy -Name \"PXE Cloud UEFI\" -Condition Or -VendorClass EQ,\"PXEClient (UEFI x64)*\",\"PXEClient (EFI BC)*\" -ProcessingOrder 3\n\
             Set-DhcpServerv4OptionValue -PolicyName \"PXE Cloud UEFI\" -OptionId 66 -Value \"{address}\"\n\
             Set-DhcpServerv4OptionValue -PolicyName \"PXE Cloud UEFI\" -OptionId 67 -Value \"{efi64}\"\n\
             \n\
             Add-DhcpServerv4Policy -Name \"PXE Cloud BIOS\" -Condition Or -VendorClass EQ,\"PXEClient (BIOS)*\" -ProcessingOrder 4\n\
             Set-DhcpServerv4OptionValue -PolicyName \"PXE Cloud BIOS\" -OptionId 66 -Value \"{address}\"\n\
             Set-DhcpServerv4OptionValue -PolicyName \"PXE Cloud BIOS\" -OptionId 67 -Value \"{bios}\"\n"
        ),
        DhcpServer::MikroTik => format!(
            "# PXE Cloud: network boot from {address}\n\
             # iPXE also says it is UEFI (option 93): should it match the UEFI matcher, its\n\
             # UEFI loader runs this server's autoexec.ipxe, which goes to the boot flow all the same.\n\
             /ip dhcp-server option\n\
             add name=pxecloud-server code=66 value=\"s'{address}'\" force=yes\n\
             add name=pxecloud-script code=67 value=\"s'{script}'\" force=yes\n\
             add name=pxecloud-http-class code=60 value=\"s'HTTPClient'\" force=yes\n\
             add name=pxecloud-http-loader code=67 value=\"s'{http_loader}'\" force=yes\n\
             add name=pxecloud-efi64 code=67 value=\"s'{efi64}'\" force=yes\n\
             add name=pxecloud-bios code=67 value=\"s'{bios}'\" force=yes\n\
             /ip dhcp-server option sets\n\
             add name=pxecloud-ipxe options=pxecloud-server,pxecloud-script\n\
             add name=pxecloud-http options=pxecloud-http-class,pxecloud-http-loader\n\
             add name=pxecloud-efi64 options=pxecloud-server,pxecloud-efi64\n\
             add name=pxecloud-bios options=pxecloud-server,pxecloud-bios\n\
             /ip dhcp-server matcher\n\
             add name=pxecloud-ipxe code=77 value=iPXE matching-type=exact option-set=pxecloud-ipxe\n\
             add name=pxecloud-http code=60 value=HTTPClient matching-type=substring option-set=pxecloud-http\n\
             add name=pxecloud-efi64-7 code=93 value=0x0007 option-set=pxecloud-efi64\n\
             add name=pxecloud-efi64-9 code=93 value=0x0009 option-set=pxecloud-efi64\n\
             add name=pxecloud-bios code=93 value=0x0000 option-set=pxecloud-bios\n\
             # PXE ROMs that read only the next-server field: name this server on the network too.\n\
             /ip dhcp-server network set [find] next-server={address}\n"
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

    #[test]
    fn the_loaders_a_server_admin_chose_are_named() {
        let boot = BootServer {
            bios_loader: "sb/undionly.kpxe".into(),
            efi64_loader: "sb/ipxe-shim.efi".into(),
            ..boot()
        };
        for server in DhcpServer::ALL {
            let text = snippet(server, &boot);
            assert!(text.contains("sb/undionly.kpxe"), "{server}");
            assert!(
                text.contains("http://10.0.0.2:8080/loaders/sb/ipxe-shim.efi"),
                "{server}"
            );
            assert!(!text.contains("snponly.efi"), "{server}: {text}");
        }
    }

    #[test]
    fn keas_classes_are_json_in_the_order_they_must_be_tried() {
        let text = snippet(DhcpServer::Kea, &boot());
        // Kea reads comments in its JSON; serde does not.
        let json: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let parsed: serde_json::Value =
            serde_json::from_str(&format!("{{ {json} \"end\": 0 }}")).expect("valid JSON");
        let names: Vec<&str> = parsed["client-classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|class| class["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "pxecloud-ipxe",
                "pxecloud-http",
                "pxecloud-efi64",
                "pxecloud-bios"
            ]
        );
        assert_eq!(
            parsed["client-classes"][0]["boot-file-name"],
            "http://10.0.0.2:8080/boot.ipxe"
        );
    }
}
