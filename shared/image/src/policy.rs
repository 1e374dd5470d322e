//! Which addresses customs may contact on a user's behalf (SSRF policy).

use std::net::IpAddr;

use crate::RegistryError;

/// Outbound address policy for user-given registries. Link-local addresses (cloud
/// metadata endpoints among them), unspecified, multicast and broadcast addresses are
/// always refused; loopback and private networks only when `allow_private` is set (the
/// local stack sets it; a deployment facing the internet should not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkPolicy {
    pub allow_private: bool,
}

fn always_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_unspecified() || v4.is_link_local() || v4.is_multicast() || v4.is_broadcast() || o[0] == 0
                // 100.64.0.0/10 shared address space, 192.0.0.0/24 protocol assignments
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return always_forbidden(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_unspecified() || v6.is_multicast() || (s[0] & 0xffc0) == 0xfe80
                // fd00:ec2::254, the EC2 metadata endpoint over IPv6
                || (s[0] == 0xfd00 && s[1] == 0x0ec2)
        }
    }
}

fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private(IpAddr::V4(v4));
            }
            v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00
        }
    }
}

impl NetworkPolicy {
    /// Whether one resolved address may be contacted.
    pub fn allows(&self, ip: IpAddr) -> bool {
        !always_forbidden(ip) && (self.allow_private || !private(ip))
    }

    /// Resolves `registry` (`host[:port]`) and checks every address it resolves to.
    pub async fn check(&self, registry: &str) -> Result<(), RegistryError> {
        let (host, port) = split_host_port(registry);
        let addrs: Vec<IpAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| RegistryError::Unreachable {
                registry: registry.to_owned(),
                reason: format!("cannot resolve {host}: {e}"),
            })?
            .map(|a| a.ip())
            .collect();
        if let Some(bad) = addrs.iter().find(|ip| !self.allows(**ip)) {
            return Err(RegistryError::Forbidden {
                registry: registry.to_owned(),
                reason: format!(
                    "{host} resolves to {bad}, which the network policy forbids{}",
                    if private(*bad) {
                        " (private networks are off; set CUSTOMS_ALLOW_PRIVATE_REGISTRIES=true to allow them)"
                    } else {
                        ""
                    }
                ),
            });
        }
        Ok(())
    }
}

fn split_host_port(registry: &str) -> (&str, u16) {
    if let Some(rest) = registry.strip_prefix('[')
        && let Some((h, tail)) = rest.split_once(']') {
            return (
                h,
                tail.strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(443),
            );
        }
    match registry.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, p.parse().unwrap_or(443)),
        _ => (registry, 443),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn metadata_and_link_local_are_always_refused() {
        let open = NetworkPolicy {
            allow_private: true,
        };
        for s in [
            "169.254.169.254",
            "0.0.0.0",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "224.0.0.1",
            "100.100.100.200",
        ] {
            assert!(!open.allows(ip(s)), "{s}");
        }
    }

    #[test]
    fn private_networks_need_permission() {
        let closed = NetworkPolicy::default();
        let open = NetworkPolicy {
            allow_private: true,
        };
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.10",
            "172.16.5.4",
            "::1",
            "fd12::1",
        ] {
            assert!(!closed.allows(ip(s)), "{s}");
            assert!(open.allows(ip(s)), "{s}");
        }
        assert!(closed.allows(ip("93.184.216.34")));
        assert_eq!(split_host_port("127.0.0.1:5000"), ("127.0.0.1", 5000));
        assert_eq!(split_host_port("[::1]:5001"), ("::1", 5001));
        assert_eq!(
            split_host_port("registry.example.com"),
            ("registry.example.com", 443)
        );
    }
}
