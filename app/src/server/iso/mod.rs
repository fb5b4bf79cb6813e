//! Reading uploaded ISOs: what distribution one is, and how to boot it over the network
//! without `sanboot` (its kernel and initrds, and the arguments that make it fetch the rest
//! by HTTP from this server).

pub mod read;
pub mod recipes;
