//! Who is on the other end of a request: the client's address, behind trusted proxies.

/// The client's IP address, as the server saw the connection.
pub fn client_ip(req: &poem::Request) -> Option<String> {
    client_addr(req).map(|ip| ip.to_string())
}

/// The client's IP address: the connection's peer, or, when the peer is a trusted reverse proxy
/// (`Settings::trusted_proxies`), the nearest address in `X-Forwarded-For` that is not itself a
/// trusted proxy. Rate limits and the audit log key on it.
pub fn client_addr(req: &poem::Request) -> Option<std::net::IpAddr> {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip())?;
    let trusted: &[std::net::IpAddr] = req
        .data::<std::sync::Arc<crate::AppState>>()
        .map_or(&[], |state| state.settings.trusted_proxies.as_slice());
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    // Every line of the header is part of one list (RFC 9110 §5.3): a client's own line
    // before the proxy's must not hide the proxy's. A line that is not text ends the list
    // there, like an unparsable hop.
    let mut lines = Vec::new();
    for value in req.headers().get_all("x-forwarded-for") {
        match value.to_str() {
            Ok(line) => lines.push(line),
            Err(_) => lines.clear(),
        }
    }
    let joined = lines.join(",");
    Some(forwarded_client(
        peer,
        trusted,
        (!joined.is_empty()).then_some(joined.as_str()),
    ))
}

/// The client behind `peer`: walks `X-Forwarded-For` from the right (the hop nearest to us)
/// while the hops are trusted proxies; an unparsable hop stops the walk at the last good one.
fn forwarded_client(
    peer: std::net::IpAddr,
    trusted: &[std::net::IpAddr],
    forwarded_for: Option<&str>,
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or("").rsplit(',').map(str::trim) {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// Audits a refusal by a rate limit (see [`pupero_market::ratelimit::audit_refusal`]) from the
/// request's client, and answers it.
pub async fn audit_refusal(
    state: &crate::AppState,
    req: &poem::Request,
    reason: &'static str,
    refusal: pupero_market::Error,
) -> crate::error::ApiError {
    pupero_market::ratelimit::audit_refusal(&state.market, client_addr(req), reason, refusal)
        .await
        .into()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn forwarded_for_counts_only_behind_trusted_proxies() {
        let proxy = ip("10.0.0.2");
        let trusted = [proxy, ip("10.0.0.3")];
        // Untrusted peer: the header is anyone's to forge.
        assert_eq!(
            forwarded_client(ip("198.51.100.1"), &trusted, Some("203.0.113.7")),
            ip("198.51.100.1")
        );
        // Trusted peer: the nearest untrusted hop.
        assert_eq!(
            forwarded_client(proxy, &trusted, Some("203.0.113.7")),
            ip("203.0.113.7")
        );
        assert_eq!(
            forwarded_client(proxy, &trusted, Some("1.2.3.4, 203.0.113.7, 10.0.0.3")),
            ip("203.0.113.7")
        );
        // Garbage stops the walk at the last good address; no header leaves the proxy.
        assert_eq!(
            forwarded_client(proxy, &trusted, Some("junk, 203.0.113.7")),
            ip("203.0.113.7")
        );
        assert_eq!(forwarded_client(proxy, &trusted, Some("junk")), proxy);
        assert_eq!(forwarded_client(proxy, &trusted, None), proxy);
    }
}
