//! Integration tests: the real server on a random loopback port, a fresh database per test,
//! on SQLite or, with `PXECLOUD_TEST_DATABASE=postgres`, on a real PostgreSQL server.

mod admin_api;
mod assets;
mod authorization;
mod boot_flow;
mod catalog;
mod cli;
mod crash;
mod fetch;
mod files;
mod helpers;
mod import;
mod invitations;
mod ipxe_client;
mod limits;
mod loader_sets;
mod loaders;
mod login;
mod migrations;
mod network_boot;
mod network_log;
mod organizations;
mod pages;
mod password;
mod proxies;
mod races;
mod security;
mod sessions;
mod tls;
