//! What the boot server's UDP doors did: every ProxyDHCP answer (and the PXE requests it
//! could not answer) and every TFTP transfer, for the Network boot page and the machine
//! timelines. Kept as long as the boot log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NetworkEvents {
    Table,
    Id,
    At,
    Protocol,
    ClientIp,
    ClientMac,
    Xid,
    Arch,
    VendorClass,
    Interface,
    File,
    Bytes,
    DurationMs,
    Outcome,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NetworkEvents::Table)
                    .col(pk_auto(NetworkEvents::Id))
                    .col(timestamp_with_time_zone(NetworkEvents::At))
                    .col(
                        string_len(NetworkEvents::Protocol, 8)
                            .check(Expr::col(NetworkEvents::Protocol).is_in(["dhcp", "tftp"])),
                    )
                    .col(string_len(NetworkEvents::ClientIp, 45))
                    .col(string_len_null(NetworkEvents::ClientMac, 32))
                    .col(big_integer_null(NetworkEvents::Xid))
                    .col(integer_null(NetworkEvents::Arch))
                    .col(string_len_null(NetworkEvents::VendorClass, 128))
                    .col(string_len_null(NetworkEvents::Interface, 32))
                    .col(string_len_null(NetworkEvents::File, 512))
                    .col(big_integer_null(NetworkEvents::Bytes))
                    .col(big_integer_null(NetworkEvents::DurationMs))
                    .col(string_len(NetworkEvents::Outcome, 32))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_network_events_at", NetworkEvents::At),
            ("idx_network_events_mac", NetworkEvents::ClientMac),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(NetworkEvents::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(NetworkEvents::Table).to_owned())
            .await
    }
}
