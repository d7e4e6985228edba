//! Client addresses as 16-byte keys (IPv4 mapped into IPv6), so that an exact
//! address and a CIDR block are both one range scan on every backend.

use std::net::{IpAddr, Ipv6Addr};

/// An inclusive range of 16-byte address keys: one address or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    pub first: [u8; 16],
    pub last: [u8; 16],
}

impl IpRange {
    /// Parses `10.0.0.7`, `10.0.0.0/8` or `2001:db8::/32`; None when malformed.
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix_len) = match text.split_once('/') {
            Some((address, bits)) => (address, Some(bits.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().ok()?;
        let (key, max_bits, offset) = match address {
            IpAddr::V4(_) => (ip_to_key(address), 32u8, 96u32),
            IpAddr::V6(_) => (ip_to_key(address), 128u8, 0u32),
        };
        let prefix_len = prefix_len.unwrap_or(max_bits);
        if prefix_len > max_bits {
            return None;
        }
        let bits = u128::from_be_bytes(key);
        let host_bits = 128 - (offset + u32::from(prefix_len));
        let host_mask = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        Some(Self {
            first: (bits & !host_mask).to_be_bytes(),
            last: (bits | host_mask).to_be_bytes(),
        })
    }
}

/// Returns the 16-byte key of an address: IPv6 as is, IPv4 as `::ffff:a.b.c.d`.
pub fn ip_to_key(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Returns the address a key stands for, IPv4 when it is a mapped one.
pub fn ip_from_key(key: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(key);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_covers_its_block_and_nothing_else() {
        let block = IpRange::parse("10.1.0.0/16").unwrap();
        let inside = ip_to_key("10.1.255.3".parse().unwrap());
        let outside = ip_to_key("10.2.0.0".parse().unwrap());
        assert!(block.first <= inside && inside <= block.last);
        assert!(!(block.first <= outside && outside <= block.last));
    }

    #[test]
    fn single_address_is_a_range_of_one() {
        let one = IpRange::parse("2001:db8::1").unwrap();
        assert_eq!(one.first, one.last);
        assert_eq!(ip_from_key(one.first).to_string(), "2001:db8::1");
        assert_eq!(
            ip_from_key(ip_to_key("192.0.2.9".parse().unwrap())).to_string(),
            "192.0.2.9"
        );
    }

    #[test]
    fn malformed_input_is_rejected() {
        for text in [
            "",
            "10.0.0",
            "10.0.0.0/33",
            "::/129",
            "host.example",
            "10.0.0.0/x",
        ] {
            assert_eq!(IpRange::parse(text), None, "{text}");
        }
    }
}
