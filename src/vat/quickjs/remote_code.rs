//! Vat code from `http://` and `https://` bundleSpec URLs, as the reference loads it (dev
//! servers serve vats this way): one GET made as `fetch(url, {cache: 'no-store'})` makes it
//! (with `Cache-Control: no-cache` and `Pragma: no-cache`, which the Fetch standard adds for that
//! mode), and a status other than 2xx fails with the reference's `fetch of user code <url>
//! failed: <status>`. Beyond the reference, which has no limits: the body may have at most
//! [`MAX_SIZE`] bytes; the whole fetch, redirects included, takes at most [`TIMEOUT`];
//! redirects are followed (at most [`MAX_REDIRECTS`]) only within the URL's origin, since the
//! code is what the user named, not what another server may offer; HTTPS is rustls with the
//! webpki roots (no system store, no self-signed certificates).
//!
//! Vats start on the kernel thread, which waits for the fetch: it runs on a thread of its own,
//! and the kernel stops waiting after [`TIMEOUT`] even if name resolution hangs (the thread is
//! then left to finish on its own). So a slow server holds the kernel for [`TIMEOUT`] at most.

use std::sync::mpsc;
use std::time::Duration;
use url::Url;

/// The most bytes of code one fetch may bring.
pub const MAX_SIZE: usize = 32 << 20;

/// How long one fetch, redirects included, may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How many same-origin redirects one fetch may follow.
pub const MAX_REDIRECTS: usize = 5;

/// Whether `spec` is a URL this module fetches.
pub fn is_remote(spec: &str) -> bool {
    spec.starts_with("http://") || spec.starts_with("https://")
}

/// The text at `spec`, or why not, worded as the reference words a failed fetch.
pub fn fetch(spec: &str) -> Result<String, String> {
    fetch_within(spec, TIMEOUT, MAX_SIZE)
        .map_err(|why| format!("fetch of user code {spec} failed: {why}"))
}

/// [`fetch`] with its limits as parameters; the error is the reason alone.
fn fetch_within(spec: &str, timeout: Duration, max_size: usize) -> Result<String, String> {
    let url = Url::parse(spec).map_err(|e| format!("bad URL: {e}"))?;
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("vat-code-fetch".into())
        .spawn(move || {
            let _ = sender.send(get(url, timeout, max_size));
        })
        .map_err(|e| format!("cannot start the fetch: {e}"))?;
    match receiver.recv_timeout(timeout + Duration::from_millis(200)) {
        Ok(outcome) => outcome,
        Err(_) => Err(no_response(timeout)),
    }
}

fn no_response(timeout: Duration) -> String {
    format!("no complete response within {} s", timeout.as_secs_f64())
}

/// The GET itself, following same-origin redirects.
fn get(mut url: Url, timeout: Duration, max_size: usize) -> Result<String, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("ocapd/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    for _ in 0..=MAX_REDIRECTS {
        let mut response = agent
            .get(url.as_str())
            .header("Cache-Control", "no-cache")
            .header("Pragma", "no-cache")
            .call()
            .map_err(|e| match e {
                ureq::Error::Timeout(_) => no_response(timeout),
                e => e.to_string(),
            })?;
        let status = response.status().as_u16();
        if (300..400).contains(&status)
            && let Some(location) = response.headers().get("location")
        {
            let next = location
                .to_str()
                .ok()
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| format!("{status} with a bad Location"))?;
            if next.origin() != url.origin() {
                return Err(format!("{status}: redirected to another origin ({next})"));
            }
            url = next;
            continue;
        }
        if !(200..300).contains(&status) {
            return Err(status.to_string());
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(max_size as u64)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => format!("larger than {max_size} bytes"),
                ureq::Error::Timeout(_) => no_response(timeout),
                e => format!("reading the response: {e}"),
            })?;
        return String::from_utf8(body).map_err(|_| "the response is not UTF-8 text".into());
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A server on 127.0.0.1 answering each connection with the next of `responses` (raw
    /// HTTP); returns its base URL and the requests it received.
    fn serve(responses: Vec<Vec<u8>>) -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (seen, requests) = mpsc::channel();
        std::thread::spawn(move || {
            for response in responses {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = seen.send(String::from_utf8_lossy(&request).into_owned());
                let _ = stream.write_all(&response);
            }
        });
        (base, requests)
    }

    fn ok(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn raw(response: &str) -> Vec<u8> {
        response.as_bytes().to_vec()
    }

    #[test]
    fn a_2xx_body_is_the_code_and_the_request_asks_for_no_cached_copy() {
        let (base, requests) = serve(vec![ok("{\"moduleFormat\":\"iife\"}")]);
        let text = fetch(&format!("{base}/v.bundle")).unwrap();
        assert_eq!(text, "{\"moduleFormat\":\"iife\"}");
        let request = requests.recv().unwrap().to_ascii_lowercase();
        assert!(
            request.starts_with("get /v.bundle http/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains("\r\ncache-control: no-cache\r\n"),
            "{request}"
        );
        assert!(request.contains("\r\npragma: no-cache\r\n"), "{request}");
    }

    #[test]
    fn other_statuses_fail_with_the_references_words() {
        let (base, _) = serve(vec![raw(
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        )]);
        let url = format!("{base}/missing.bundle");
        assert_eq!(
            fetch(&url).unwrap_err(),
            format!("fetch of user code {url} failed: 404")
        );
    }

    #[test]
    fn redirects_are_followed_within_the_origin_only() {
        let (base, requests) = serve(vec![
            raw("HTTP/1.1 302 Found\r\nLocation: /moved.bundle\r\nContent-Length: 0\r\n\r\n"),
            ok("moved"),
        ]);
        assert_eq!(fetch(&format!("{base}/v.bundle")).unwrap(), "moved");
        assert!(requests.recv().unwrap().starts_with("GET /v.bundle"));
        assert!(requests.recv().unwrap().starts_with("GET /moved.bundle"));
        let (base, _) = serve(vec![raw(
            "HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.2:9/x\r\nContent-Length: 0\r\n\r\n",
        )]);
        let err = fetch(&format!("{base}/v.bundle")).unwrap_err();
        assert!(
            err.ends_with("failed: 301: redirected to another origin (http://127.0.0.2:9/x)"),
            "{err}"
        );
        let hop = "HTTP/1.1 307 Again\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n";
        let (base, _) = serve(vec![raw(hop); MAX_REDIRECTS + 1]);
        let err = fetch(&format!("{base}/v.bundle")).unwrap_err();
        assert!(err.ends_with("failed: more than 5 redirects"), "{err}");
    }

    #[test]
    fn a_body_over_the_limit_is_refused() {
        let body = "x".repeat(2048);
        let (base, _) = serve(vec![ok(&body)]);
        let err = fetch_within(&format!("{base}/big"), TIMEOUT, 1024).unwrap_err();
        assert_eq!(err, "larger than 1024 bytes");
        // Without a length, as it streams in.
        let (base, _) = serve(vec![raw(&format!(
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{body}"
        ))]);
        let err = fetch_within(&format!("{base}/big"), TIMEOUT, 1024).unwrap_err();
        assert_eq!(err, "larger than 1024 bytes");
    }

    #[test]
    fn a_server_that_never_answers_is_given_up_on_in_time() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/slow.bundle", listener.local_addr().unwrap());
        let started = std::time::Instant::now();
        let err = fetch_within(&url, Duration::from_millis(300), MAX_SIZE).unwrap_err();
        assert_eq!(err, "no complete response within 0.3 s");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }

    #[test]
    fn refused_connections_bad_urls_and_non_text_are_clear() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v.bundle", listener.local_addr().unwrap());
        drop(listener);
        let err = fetch(&url).unwrap_err();
        assert!(
            err.starts_with(&format!("fetch of user code {url} failed: ")),
            "{err}"
        );
        assert!(fetch("http://").unwrap_err().contains("bad URL"));
        let mut binary = raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        binary.extend([0xff, 0xfe]);
        let (base, _) = serve(vec![binary]);
        let err = fetch(&format!("{base}/z")).unwrap_err();
        assert!(
            err.ends_with("failed: the response is not UTF-8 text"),
            "{err}"
        );
        // TLS to a server that does not speak it fails at once, saying so.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/v.bundle", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
            }
        });
        let started = std::time::Instant::now();
        let err = fetch(&url).unwrap_err();
        assert!(
            err.starts_with(&format!("fetch of user code {url} failed: ")),
            "{err}"
        );
        assert!(started.elapsed() < TIMEOUT, "{err}");
    }
}
