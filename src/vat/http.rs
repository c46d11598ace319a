//! Vats' HTTP requests (the `fetch` endowment, spec §3.2), made off the kernel thread under the
//! vat's `network.allowedHosts`.
//!
//! As in the reference, a host is allowed when it equals one of `allowedHosts` exactly (the URL's
//! hostname: no port or scheme) and `file:` is refused; unlike it, every redirect is checked
//! too (the reference's host caveat looks only at the first URL), only `http:` and `https:` are
//! fetched, the `Host` header cannot be set by the vat, and there are limits: [`MAX_IN_FLIGHT`]
//! requests per vat, [`MAX_BODY`] bytes per response, [`TIMEOUT`] per request. Each request runs
//! on a thread of its own; its outcome waits in the vat's inbox, and the vat's waker rings so that
//! the kernel gives the vat a crank to take it.

use super::Waker;
use super::budget::{Budget, Charge};
use super::wake::lock;
use serde::Deserialize;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

/// Requests one vat may have in flight.
pub const MAX_IN_FLIGHT: usize = 32;
/// Bytes one response body may have (the vat's memory limit applies on top).
pub const MAX_BODY: u64 = 16 << 20;
/// How long one request may take, from the first connection to the last byte of the last
/// redirect's body (it was per hop: a 21-hop chain stayed pending 189 s).
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed before giving up, as the Fetch standard (and browsers, and Node) say.
pub const MAX_REDIRECTS: usize = 20;

/// What a vat asks for.
#[derive(Debug, Clone, Deserialize)]
pub struct Request {
    /// The HTTP method.
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Header names and values, as the vat gave them.
    pub headers: Vec<(String, String)>,
    /// The body, if any (handed over apart from the JSON of the rest).
    #[serde(skip)]
    pub body: Option<Vec<u8>>,
    /// `follow`, `error` or `manual`, as in `RequestInit.redirect`.
    pub redirect: String,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The status code's reason phrase.
    pub status_text: String,
    /// Header names and values (values as Latin-1, a char per byte).
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
    /// The URL of the last request (after redirects).
    pub url: String,
    /// Whether a redirect was followed.
    pub redirected: bool,
}

/// A request's outcome: the response, or why there is none.
pub type Outcome = Result<Response, String>;

/// One vat's network: its allowed hosts, its requests in flight, and their outcomes.
pub struct Network {
    allowed: Arc<[String]>,
    agent: ureq::Agent,
    /// [`TIMEOUT`], but for tests.
    timeout: Duration,
    in_flight: Arc<AtomicUsize>,
    finished: Arc<Mutex<Vec<Finished>>>,
    /// What the vat may hold: request bodies being sent and response bodies being read count.
    budget: Arc<Budget>,
}

/// A finished request: its id, its outcome, and what its body holds of the vat's budget until
/// the vat has taken it.
pub type Finished = (u64, Outcome, Option<Charge>);

/// Headers only the client sets: the vat's would confuse framing, or (`host`) name another
/// host than the one allowed.
const CLIENT_HEADERS: [&str; 6] = [
    "host",
    "content-length",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
];

impl Network {
    /// The network of a vat with `config`, drawing on `budget`: `None` when it did not ask for
    /// `fetch`; an error when it did without `network.allowedHosts` (the reference's text, but
    /// for the vat's name, which whoever reports it adds).
    pub fn from_config(config: &Value, budget: &Arc<Budget>) -> Result<Option<Network>, String> {
        Ok(allowed_hosts(config)?.map(|allowed| Network::new(allowed, Arc::clone(budget))))
    }

    /// Whether `config`'s network settings are acceptable (see [`Network::from_config`]).
    pub fn check(config: &Value) -> Result<(), String> {
        allowed_hosts(config).map(drop)
    }

    fn new(allowed: Arc<[String]>, budget: Arc<Budget>) -> Network {
        // Redirects are followed here, one checked hop at a time; each hop gets what is left
        // of the request's time (see `perform`).
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("ocapd/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Network {
            allowed,
            agent,
            timeout: TIMEOUT,
            in_flight: Arc::default(),
            finished: Arc::default(),
            budget,
        }
    }

    /// Starts request `id` on a thread of its own; `waker` rings when it is done. Refused at
    /// once when the vat has too many in flight, or its body does not fit the vat's budget.
    pub fn start(&self, id: u64, request: Request, waker: Option<Waker>) -> Result<(), String> {
        let size = request.body.as_ref().map_or(0, Vec::len);
        let sending = self.budget.charge(size).ok_or_else(|| {
            format!("the vat's memory budget has no room for a {size}-byte request body")
        })?;
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Err(format!(
                "a vat may have at most {MAX_IN_FLIGHT} requests in flight"
            ));
        }
        let (allowed, agent) = (Arc::clone(&self.allowed), self.agent.clone());
        let deadline = Instant::now() + self.timeout;
        let (in_flight, finished) = (Arc::clone(&self.in_flight), Arc::clone(&self.finished));
        let budget = Arc::clone(&self.budget);
        let pending = waker.as_ref().map(Waker::pending);
        let spawned = std::thread::Builder::new()
            .name("vat-fetch".into())
            .spawn(move || {
                let mut holding = budget.charge(0);
                let outcome = perform(&agent, &allowed, request, deadline, &mut holding);
                drop(sending);
                lock(&finished).push((id, outcome, holding));
                in_flight.fetch_sub(1, Ordering::SeqCst);
                if let Some(waker) = waker {
                    waker.ring();
                }
                drop(pending);
            });
        spawned.map(drop).map_err(|e| {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            format!("cannot start the request: {e}")
        })
    }

    /// The outcomes of the requests finished since the last call, in the order they finished.
    pub fn take_finished(&self) -> Vec<Finished> {
        std::mem::take(&mut *lock(&self.finished))
    }
}

/// The hosts a vat that asks for `fetch` may reach; `None` if it does not ask.
fn allowed_hosts(config: &Value) -> Result<Option<Arc<[String]>>, String> {
    let asks = config
        .get("globals")
        .and_then(Value::as_array)
        .is_some_and(|names| names.iter().any(|n| n == "fetch"));
    if !asks {
        return Ok(None);
    }
    let Some(hosts) = config
        .pointer("/network/allowedHosts")
        .and_then(Value::as_array)
    else {
        return Err("requested \"fetch\" but no network.allowedHosts was specified".into());
    };
    Ok(Some(
        hosts
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
    ))
}

/// Why `url` may not be fetched under `allowed`, if it may not.
pub fn refusal(url: &Url, allowed: &[String]) -> Option<String> {
    match url.scheme() {
        "http" | "https" => {}
        "file" => {
            return Some(
                "fetch cannot target file:// URLs. Use the fs platform capability \
                 (VatConfig.platformConfig.fs) for filesystem access."
                    .into(),
            );
        }
        scheme => return Some(format!("fetch cannot target {scheme}: URLs")),
    }
    let host = url.host_str().unwrap_or_default();
    (!allowed.iter().any(|a| a == host)).then(|| format!("Invalid host: {host}"))
}

/// Makes the request, following redirects as `request.redirect` says, each hop checked, all
/// of it before `deadline`.
fn perform(
    agent: &ureq::Agent,
    allowed: &[String],
    mut request: Request,
    deadline: Instant,
    holding: &mut Option<Charge>,
) -> Outcome {
    let mut url = Url::parse(&request.url).map_err(|e| format!("bad URL {}: {e}", request.url))?;
    for hop in 0..=MAX_REDIRECTS {
        if let Some(why) = refusal(&url, allowed) {
            return Err(why);
        }
        let mut response = send(agent, &request, &url, deadline, holding)?;
        let location = redirect_target(&response, &url);
        match (location, request.redirect.as_str()) {
            (Some(_), "error") => return Err(format!("redirected to {}", response.url)),
            (Some(next), "follow") => {
                follow(&mut request, &url, &next, response.status);
                url = next;
            }
            _ => {
                response.redirected = hop > 0;
                return Ok(response);
            }
        }
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

/// One request and its whole response, before `deadline`; the body is read into `holding`'s
/// share of the vat's budget.
fn send(
    agent: &ureq::Agent,
    request: &Request,
    url: &Url,
    deadline: Instant,
    holding: &mut Option<Charge>,
) -> Outcome {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timed_out());
    }
    let mut builder = ureq::http::Request::builder()
        .method(request.method.as_str())
        .uri(url.as_str());
    for (name, value) in &request.headers {
        if !CLIENT_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            builder = builder.header(name, value);
        }
    }
    let body = request.body.clone().unwrap_or_default();
    let http_request = builder.body(body).map_err(|e| e.to_string())?;
    let http_request = agent
        .configure_request(http_request)
        .timeout_global(Some(left))
        .build();
    let mut response = agent.run(http_request).map_err(ureq_error)?;
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            // Header values are bytes; the Fetch classes take them as Latin-1, a char each.
            let value = value.as_bytes().iter().map(|&b| char::from(b)).collect();
            (name.as_str().to_string(), value)
        })
        .collect();
    let body = read_body(response.body_mut(), holding)?;
    Ok(Response {
        status: status.as_u16(),
        status_text: status.canonical_reason().unwrap_or_default().into(),
        headers,
        body,
        url: url.to_string(),
        redirected: false,
    })
}

/// Reads a response body, at most [`MAX_BODY`] bytes, each chunk charged to the vat's budget
/// before it is kept (a previous hop's body is given back first).
fn read_body(body: &mut ureq::Body, holding: &mut Option<Charge>) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let charge = holding.as_mut().ok_or("the vat's memory budget is spent")?;
    charge.shrink_to_zero();
    let mut reader = body.with_config().limit(MAX_BODY).reader();
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 64 << 10];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                timed_out()
            } else {
                format!("reading the response body: {e}")
            }
        })?;
        if n == 0 {
            return Ok(bytes);
        }
        if !charge.grow(n) {
            return Err(format!(
                "reading the response body: more than the vat's memory budget allows ({} bytes read)",
                bytes.len()
            ));
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}

fn ureq_error(error: ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => timed_out(),
        other => other.to_string(),
    }
}

fn timed_out() -> String {
    format!(
        "the request took longer than {} s, redirects included",
        TIMEOUT.as_secs()
    )
}

/// Where a redirect response points, resolved against `url`.
fn redirect_target(response: &Response, url: &Url) -> Option<Url> {
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response
        .headers
        .iter()
        .find(|(name, _)| name == "location")?;
    url.join(&location.1).ok()
}

/// The next request after a redirect from `from` to `to` (Fetch standard §4.4): 303, and 301
/// or 302 after a POST, become a GET without a body; leaving the origin drops credentials.
fn follow(request: &mut Request, from: &Url, to: &Url, status: u16) {
    let to_get = status == 303 && request.method != "HEAD"
        || matches!(status, 301 | 302) && request.method == "POST";
    if to_get {
        request.method = "GET".into();
        request.body = None;
        request.headers.retain(|(name, _)| {
            !name.eq_ignore_ascii_case("content-type")
                && !name.eq_ignore_ascii_case("content-encoding")
        });
    }
    if from.origin() != to.origin() {
        request
            .headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
    }
    request.url = to.to_string();
}

/// A loopback HTTP server for tests.
#[cfg(test)]
pub(crate) mod test_server {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// A loopback server answering each request with `answer(method, path)` (a status line and
    /// headers, then a body); every request it saw, head and body, goes to the receiver.
    pub fn server(
        answer: impl Fn(&str, &str) -> (String, Vec<u8>) + Send + 'static,
    ) -> (u16, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen, requests) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(n) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = n.trim().parse().unwrap();
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let mut words = head.split(' ');
                let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let (status_and_headers, reply) = answer(method, path);
                let _ = seen.send(format!("{head}\r\n{}", String::from_utf8_lossy(&body)));
                let text = format!(
                    "HTTP/1.1 {status_and_headers}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    reply.len()
                );
                let _ = stream.write_all(text.as_bytes());
                let _ = stream.write_all(&reply);
            }
        });
        (port, requests)
    }
}

#[cfg(test)]
mod tests {
    use super::test_server::server;
    use super::*;
    use std::sync::mpsc;

    fn network() -> Network {
        Network::new(vec!["127.0.0.1".to_string()].into(), Budget::new(64 << 20))
    }

    fn request(method: &str, url: String, redirect: &str) -> Request {
        Request {
            method: method.into(),
            url,
            headers: vec![
                ("x-vat".into(), "yes".into()),
                ("Host".into(), "evil.example".into()),
            ],
            body: (method == "POST").then(|| b"ping".to_vec()),
            redirect: redirect.into(),
        }
    }

    fn fetch(req: Request) -> Outcome {
        let net = network();
        let mut holding = net.budget.charge(0);
        perform(
            &net.agent,
            &net.allowed,
            req,
            Instant::now() + TIMEOUT,
            &mut holding,
        )
    }

    #[test]
    fn a_request_to_an_allowed_host_gets_its_response_and_cannot_set_host() {
        let (port, seen) = server(|method, path| {
            let body = format!("{method} {path}").into_bytes();
            ("200 OK\r\nx-answer: 42".into(), body)
        });
        let url = format!("http://127.0.0.1:{port}/a?b=1");
        let response = fetch(request("POST", url.clone(), "follow")).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.status_text, "OK");
        assert_eq!(response.body, b"POST /a?b=1");
        assert!(response.headers.contains(&("x-answer".into(), "42".into())));
        assert_eq!((response.url, response.redirected), (url, false));
        let head = seen.recv().unwrap().to_ascii_lowercase();
        assert!(head.contains("x-vat: yes"), "{head}");
        assert!(head.contains(&format!("host: 127.0.0.1:{port}")), "{head}");
        assert!(!head.contains("evil.example"), "{head}");
        assert!(head.ends_with("\r\n\r\nping"), "{head}");
    }

    #[test]
    fn redirects_are_followed_checked_and_303_turns_a_post_into_a_get() {
        let (port, seen) = server(move |_, path| match path {
            "/start" => ("303 See Other\r\nlocation: /end".into(), vec![]),
            "/away" => ("302 Found\r\nlocation: http://localhost/".into(), vec![]),
            _ => ("200 OK".into(), b"done".to_vec()),
        });
        let start = format!("http://127.0.0.1:{port}/start");
        let response = fetch(request("POST", start.clone(), "follow")).unwrap();
        assert_eq!(response.body, b"done");
        assert_eq!(response.url, format!("http://127.0.0.1:{port}/end"));
        assert!(response.redirected);
        seen.recv().unwrap();
        assert!(seen.recv().unwrap().starts_with("GET /end"));
        // A redirect off the allowed hosts is refused, as the first URL would be.
        let away = format!("http://127.0.0.1:{port}/away");
        assert_eq!(
            fetch(request("GET", away.clone(), "follow")),
            Err("Invalid host: localhost".into())
        );
        assert!(fetch(request("GET", start.clone(), "error")).is_err());
        let manual = fetch(request("GET", away, "manual")).unwrap();
        assert_eq!(manual.status, 302);
    }

    /// A server whose `/hop/N` redirects to `/hop/N+1` after `pause`, until `/hop/last`.
    fn chain(last: usize, pause: Duration) -> u16 {
        let (port, _) = server(move |_, path| {
            std::thread::sleep(pause);
            let n: usize = path.trim_start_matches("/hop/").parse().unwrap_or(0);
            if n < last {
                (format!("302 Found\r\nlocation: /hop/{}", n + 1), vec![])
            } else {
                ("200 OK".into(), b"end".to_vec())
            }
        });
        port
    }

    #[test]
    fn redirects_stop_after_twenty() {
        let port = chain(MAX_REDIRECTS, Duration::ZERO);
        let response = fetch(request(
            "GET",
            format!("http://127.0.0.1:{port}/hop/0"),
            "follow",
        ));
        assert_eq!(
            response.unwrap().body,
            b"end",
            "twenty redirects are followed"
        );
        let port = chain(MAX_REDIRECTS + 1, Duration::ZERO);
        let response = fetch(request(
            "GET",
            format!("http://127.0.0.1:{port}/hop/0"),
            "follow",
        ));
        assert_eq!(response, Err("more than 20 redirects".into()));
    }

    #[test]
    fn the_time_limit_is_for_the_whole_request_not_each_hop() {
        // Each hop well within the limit, the chain well past it: it used to run to its end
        // (a 21-hop chain stayed pending 189 s against a 30 s limit).
        let port = chain(10, Duration::from_millis(150));
        let net = Network {
            timeout: Duration::from_millis(600),
            ..network()
        };
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let wakeups = super::super::Wakeups::default();
        wakeups.set_poke(move || lock(&tx).send(()).unwrap());
        let url = format!("http://127.0.0.1:{port}/hop/0");
        net.start(1, request("GET", url, "follow"), Some(wakeups.waker("v1")))
            .unwrap();
        rx.recv().unwrap();
        let finished = net.take_finished();
        assert_eq!(
            finished[0].1,
            Err("the request took longer than 30 s, redirects included".into())
        );
    }

    #[test]
    fn files_other_schemes_unlisted_hosts_and_huge_bodies_are_refused() {
        let allowed = ["127.0.0.1".to_string()];
        let refused = |url: &str| refusal(&Url::parse(url).unwrap(), &allowed);
        assert!(
            refused("file:///etc/passwd")
                .unwrap()
                .starts_with("fetch cannot target file://")
        );
        assert_eq!(
            refused("ftp://127.0.0.1/"),
            Some("fetch cannot target ftp: URLs".into())
        );
        assert_eq!(
            refused("https://example.com/"),
            Some("Invalid host: example.com".into())
        );
        assert_eq!(refused("http://127.0.0.1:8443/x"), None);
        let (port, _seen) = server(|_, _| ("200 OK".into(), vec![0; MAX_BODY as usize + 1]));
        let error = fetch(request(
            "GET",
            format!("http://127.0.0.1:{port}/"),
            "follow",
        ));
        assert!(error.unwrap_err().starts_with("reading the response body"));
    }

    #[test]
    fn bodies_count_against_the_vats_budget_while_they_are_held() {
        let (port, _seen) = server(|_, _| ("200 OK".into(), vec![1; 256 << 10]));
        let budget = Budget::new(1 << 20);
        let net = Network::new(vec!["127.0.0.1".to_string()].into(), Arc::clone(&budget));
        let url = format!("http://127.0.0.1:{port}/");
        let mut holding = budget.charge(0);
        let response = perform(
            &net.agent,
            &net.allowed,
            request("GET", url.clone(), "follow"),
            Instant::now() + TIMEOUT,
            &mut holding,
        );
        assert_eq!(response.unwrap().body.len(), 256 << 10);
        assert_eq!(budget.used(), 256 << 10, "held until the vat takes it");
        drop(holding);
        assert_eq!(budget.used(), 0);
        // A body larger than what is left is refused as it is read, never held whole.
        let _rest = budget.charge(900 << 10).unwrap();
        let mut holding = budget.charge(0);
        let error = perform(
            &net.agent,
            &net.allowed,
            request("GET", url, "follow"),
            Instant::now() + TIMEOUT,
            &mut holding,
        );
        assert!(error.unwrap_err().contains("memory budget"));
    }

    #[test]
    fn a_vat_may_have_only_so_many_requests_in_flight() {
        // Connections to this listener are never accepted: every request waits for its timeout.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}/", silent.local_addr().unwrap().port());
        let net = network();
        for id in 0..MAX_IN_FLIGHT as u64 {
            net.start(id, request("GET", url.clone(), "follow"), None)
                .unwrap();
        }
        let refused = net.start(99, request("GET", url, "follow"), None);
        assert_eq!(
            refused,
            Err(format!(
                "a vat may have at most {MAX_IN_FLIGHT} requests in flight"
            ))
        );
        assert!(net.take_finished().is_empty());
    }

    #[test]
    fn fetch_needs_allowed_hosts_and_a_finished_request_rings_the_vat() {
        let config = serde_json::json!({"globals": ["fetch"]});
        assert_eq!(
            Network::check(&config).err(),
            Some(r#"requested "fetch" but no network.allowedHosts was specified"#.into())
        );
        assert!(
            Network::from_config(&serde_json::json!({}), &Budget::new(1))
                .unwrap()
                .is_none()
        );
        let (port, _seen) = server(|_, _| ("204 No Content".into(), vec![]));
        let wakeups = super::super::Wakeups::default();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        wakeups.set_poke(move || lock(&tx).send(()).unwrap());
        let net = network();
        let url = format!("http://127.0.0.1:{port}/");
        net.start(7, request("GET", url, "follow"), Some(wakeups.waker("v3")))
            .unwrap();
        rx.recv().unwrap();
        assert_eq!(wakeups.take_awake().as_deref(), Some("v3"));
        let finished = net.take_finished();
        assert_eq!(finished.len(), 1);
        assert_eq!(
            (finished[0].0, finished[0].1.as_ref().unwrap().status),
            (7, 204)
        );
    }
}
