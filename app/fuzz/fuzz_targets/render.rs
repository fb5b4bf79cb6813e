//! Any plan, with any text in it, renders to a script that iPXE reads as exactly the commands
//! the renderer meant (checked against the tokenizer that models iPXE's parser).

#![no_main]

use app::ipxe::{Plan, check::assert_safe};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|plan: Plan| {
    assert_safe(&plan);
});
