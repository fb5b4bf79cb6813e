//! One thing the boot server's UDP doors did: a ProxyDHCP answer or a TFTP transfer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "network_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub at: DateTimeUtc,
    /// `dhcp` or `tftp`.
    pub protocol: String,
    pub client_ip: String,
    /// As `52-54-00-12-34-56` (DHCP only: TFTP knows the address, not the hardware).
    pub client_mac: Option<String>,
    pub xid: Option<i64>,
    /// The client architecture (RFC 4578 option 93).
    pub arch: Option<i32>,
    pub vendor_class: Option<String>,
    pub interface: Option<String>,
    /// The loader or URL named (DHCP), or the file sent (TFTP).
    pub file: Option<String>,
    pub bytes: Option<i64>,
    pub duration_ms: Option<i64>,
    /// DHCP: `offer`, `ack`, or `ignored: <why>`; TFTP: `sent`, `size probe`, `ended by client`,
    /// `failed`.
    pub outcome: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
