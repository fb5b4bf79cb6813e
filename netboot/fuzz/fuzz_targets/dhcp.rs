//! Any bytes on UDP 67 or 4011: parsing never panics, the accessors never panic, and a
//! message that parses writes back to one that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netboot::dhcp::Message;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(message) = Message::parse(bytes) {
        let _ = (
            message.message_type(),
            message.hardware_address(),
            message.boot_client(),
            message.client_arch(),
            message.is_ipxe(),
        );
        let again = Message::parse(&message.write()).expect("what we write parses");
        assert_eq!(again.options, message.options);
        assert_eq!(again.xid, message.xid);
    }
});
