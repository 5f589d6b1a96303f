//! A scripted HTTP/1.1 server for browser tests that need exact responses: every answer
//! (status, headers in order, repeated or empty values) comes from the test's handler, and
//! every request is recorded as it arrived, so a test can check what the browser really
//! sent. One thread per connection, `Connection: close`: browsers are its only clients.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub port: u16,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the handler answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// Listeners on loopback ports, all answering through one handler and one log.
pub struct ScriptedHttp {
    pub ports: Vec<u16>,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl ScriptedHttp {
    /// `listeners` servers on free loopback ports (distinct ports are distinct origins).
    pub fn start(
        listeners: usize,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let handler: Arc<Handler> = Arc::new(handler);
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut ports = Vec::new();
        for _ in 0..listeners {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            let port = listener.local_addr().expect("local addr").port();
            ports.push(port);
            let (handler, log) = (handler.clone(), log.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (handler, log) = (handler.clone(), log.clone());
                    std::thread::spawn(move || serve(stream, port, &*handler, &log));
                }
            });
        }
        Self { ports, log }
    }

    /// Every request so far, in arrival order, and forgets them.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.log.lock().expect("log lock"))
    }
}

fn serve(stream: TcpStream, port: u16, handler: &Handler, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = match (parts.next(), parts.next()) {
        (Some(m), Some(p)) => (m.to_owned(), p.to_owned()),
        _ => return,
    };
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let seen = Seen {
        port,
        method,
        path,
        headers,
    };
    if let Some(len) = seen
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut body = vec![0; len.min(1 << 20)];
        let _ = reader.read_exact(&mut body);
    }
    let reply = handler(&seen);
    log.lock().expect("log lock").push(seen);
    let mut out = format!("HTTP/1.1 {} X\r\n", reply.status);
    for (n, v) in &reply.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.body.len(),
        reply.body
    ));
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
}
