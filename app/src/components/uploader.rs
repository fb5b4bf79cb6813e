//! The browser's side of a hosted-file upload: a small tus 1.0 client over XMLHttpRequest
//! (fetch reports no upload progress). The file goes in pieces of [`PIECE`] bytes; after a
//! dropped connection it asks the server where the upload stands and goes on from there, and
//! an upload left by a reload resumes the same way once its file is picked again.

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use web_sys::{Blob, XmlHttpRequest, XmlHttpRequestEventTarget};

use crate::error::AppError;

/// The most one request carries: a dropped connection costs at most this much again.
const PIECE: f64 = 64.0 * 1024.0 * 1024.0;
/// Dropped connections in a row before the upload gives up (it can be resumed later).
const RETRIES: u32 = 5;

/// Where an upload stands, for the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Progress {
    pub sent: f64,
    pub total: f64,
    /// Bytes/s since this run of the upload started.
    pub speed: f64,
}

impl Progress {
    /// Seconds left at the current speed.
    pub fn seconds_left(&self) -> Option<f64> {
        (self.speed > 0.0).then(|| (self.total - self.sent).max(0.0) / self.speed)
    }

    pub fn percent(&self) -> f64 {
        if self.total > 0.0 {
            (self.sent / self.total * 100.0).clamp(0.0, 100.0)
        } else {
            100.0
        }
    }
}

/// The request in flight, so that Cancel can abort it.
#[derive(Clone, Copy)]
pub struct InFlight(StoredValue<Option<SendWrapper<XmlHttpRequest>>>);

impl InFlight {
    pub fn new() -> Self {
        // Thread-safe storage: it holds a request only in the browser (a local one would be
        // dropped on another thread of the server's renderer, which panics).
        Self(StoredValue::new(None))
    }

    /// Aborts the request in flight, if any.
    pub fn abort(&self) {
        self.0.with_value(|xhr| {
            if let Some(xhr) = xhr {
                let _ = xhr.abort();
            }
        });
    }
}

impl Default for InFlight {
    fn default() -> Self {
        Self::new()
    }
}

/// What a request came back with.
struct Reply {
    status: u16,
    xhr: XmlHttpRequest,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.xhr.get_response_header(name).ok().flatten()
    }

    /// The server's message: its `AppError`, or its text.
    fn message(&self) -> String {
        let text = self.xhr.response_text().ok().flatten().unwrap_or_default();
        match serde_json::from_str::<AppError>(&text) {
            Ok(error) => error.to_string(),
            Err(_) if text.trim().is_empty() => format!("The server answered {}.", self.status),
            Err(_) => text.trim().to_owned(),
        }
    }
}

/// Why a request did not come back.
enum Failed {
    /// The connection dropped (or the server could not be reached).
    Network,
    /// Cancel was pressed.
    Aborted,
}

fn js_error(error: JsValue) -> String {
    format!("{error:?}")
}

/// Sends one request and waits for its answer; `progress` hears how many body bytes went.
async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&Blob>,
    progress: Option<Box<dyn Fn(f64)>>,
    in_flight: InFlight,
) -> Result<Result<Reply, Failed>, String> {
    let xhr = XmlHttpRequest::new().map_err(js_error)?;
    xhr.open(method, url).map_err(js_error)?;
    xhr.set_request_header("Tus-Resumable", "1.0.0")
        .map_err(js_error)?;
    for (name, value) in headers {
        xhr.set_request_header(name, value).map_err(js_error)?;
    }
    let mut keep = Vec::new();
    if let Some(progress) = progress {
        let on_progress =
            Closure::<dyn Fn(web_sys::ProgressEvent)>::new(move |event: web_sys::ProgressEvent| {
                progress(event.loaded())
            });
        xhr.upload()
            .map_err(js_error)?
            .set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        keep.push(on_progress);
    }
    let outcome = std::rc::Rc::new(std::cell::Cell::new(0u8));
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        type Setter = fn(&XmlHttpRequestEventTarget, Option<&js_sys::Function>);
        let target: &XmlHttpRequestEventTarget = &xhr;
        for (code, set) in [
            (1u8, XmlHttpRequestEventTarget::set_onload as Setter),
            (2, XmlHttpRequestEventTarget::set_onerror),
            (3, XmlHttpRequestEventTarget::set_onabort),
        ] {
            let resolve = resolve.clone();
            let outcome = outcome.clone();
            let done = Closure::once_into_js(move || {
                outcome.set(code);
                let _ = resolve.call0(&JsValue::NULL);
            });
            set(target, Some(done.unchecked_ref()));
        }
    });
    in_flight.0.set_value(Some(SendWrapper::new(xhr.clone())));
    match body {
        Some(body) => xhr.send_with_opt_blob(Some(body)),
        None => xhr.send(),
    }
    .map_err(js_error)?;
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    in_flight.0.set_value(None);
    drop(keep);
    Ok(match outcome.get() {
        1 => Ok(Reply {
            status: xhr.status().unwrap_or_default(),
            xhr,
        }),
        3 => Err(Failed::Aborted),
        _ => Err(Failed::Network),
    })
}

pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

fn base64(text: &str) -> String {
    web_sys::window()
        .and_then(|w| w.btoa(text).ok())
        .unwrap_or_default()
}

/// What to upload.
pub struct NewUpload {
    pub organization_id: i32,
    pub name: String,
    pub sha256: Option<String>,
    pub public: bool,
}

/// Starts an upload of `file`; returns the upload's URL.
pub async fn create(new: &NewUpload, size: f64, in_flight: InFlight) -> Result<String, String> {
    let mut metadata = format!(
        "organization {},name {}",
        base64(&new.organization_id.to_string()),
        base64(&new.name)
    );
    if let Some(sha256) = &new.sha256 {
        metadata.push_str(&format!(",sha256 {}", base64(sha256)));
    }
    if new.public {
        metadata.push_str(&format!(",public {}", base64("true")));
    }
    let headers = [
        ("Upload-Length", format!("{size}")),
        ("Upload-Metadata", metadata),
    ];
    match send("POST", "/uploads", &headers, None, None, in_flight).await? {
        Ok(reply) if reply.status == 201 => reply
            .header("Location")
            .ok_or_else(|| "The server did not say where the upload is.".to_owned()),
        Ok(reply) => Err(reply.message()),
        Err(Failed::Aborted) => Err("Cancelled.".into()),
        Err(Failed::Network) => Err("The server could not be reached.".into()),
    }
}

/// Sends `file` to the upload at `url` from where it stands, piece by piece, through
/// dropped connections; returns the finished file's URL.
pub async fn resume(
    url: &str,
    file: &web_sys::File,
    progress: RwSignal<Progress>,
    in_flight: InFlight,
) -> Result<String, String> {
    let total = file.size();
    let started = js_sys::Date::now();
    let mut first_offset = None;
    let mut retries = 0;
    loop {
        let offset = match send("HEAD", url, &[], None, None, in_flight).await? {
            Ok(reply) if reply.status == 200 => reply
                .header("Upload-Offset")
                .and_then(|o| o.parse::<f64>().ok())
                .ok_or_else(|| "The server did not say where the upload stands.".to_owned())?,
            Ok(reply) if reply.status == 404 => {
                return Err("This upload is gone (cancelled, or unused for a week).".into());
            }
            Ok(reply) => return Err(reply.message()),
            Err(Failed::Aborted) => return Err("Cancelled.".into()),
            Err(Failed::Network) => {
                retries += 1;
                if retries > RETRIES {
                    return Err("The connection keeps dropping; resume the upload later.".into());
                }
                sleep(2000).await;
                continue;
            }
        };
        let since = *first_offset.get_or_insert(offset);
        let end = (offset + PIECE).min(total);
        let piece = file.slice_with_f64_and_f64(offset, end).map_err(js_error)?;
        let report = move |loaded: f64| {
            let sent = offset + loaded;
            let seconds = (js_sys::Date::now() - started) / 1000.0;
            let speed = if seconds > 0.5 {
                (sent - since) / seconds
            } else {
                0.0
            };
            progress.set(Progress { sent, total, speed });
        };
        report(0.0);
        let headers = [
            ("Content-Type", "application/offset+octet-stream".to_owned()),
            ("Upload-Offset", format!("{offset}")),
        ];
        match send(
            "PATCH",
            url,
            &headers,
            Some(&piece),
            Some(Box::new(report)),
            in_flight,
        )
        .await?
        {
            Ok(reply) if reply.status == 204 => {
                retries = 0;
                if let Some(file_url) = reply.header("Content-Location") {
                    progress.update(|p| p.sent = total);
                    return Ok(file_url);
                }
            }
            // Another tab sends it, a piece was cut off, or a proxy or replica is restarting
            // or full for a moment: ask again where it stands.
            Ok(reply)
                if matches!(reply.status, 400 | 409 | 502 | 503 | 504 | 507)
                    && retries < RETRIES =>
            {
                retries += 1;
                sleep(1000 * (1 << retries.min(4))).await;
            }
            Ok(reply) => return Err(reply.message()),
            Err(Failed::Aborted) => return Err("Cancelled.".into()),
            Err(Failed::Network) => {
                retries += 1;
                if retries > RETRIES {
                    return Err("The connection keeps dropping; resume the upload later.".into());
                }
                sleep(2000).await;
            }
        }
    }
}

/// Cancels the upload at `url`: the server drops its bytes.
pub async fn cancel(url: &str) -> Result<(), String> {
    match send("DELETE", url, &[], None, None, InFlight::new()).await? {
        Ok(reply) if reply.status == 204 || reply.status == 404 => Ok(()),
        Ok(reply) => Err(reply.message()),
        Err(_) => Err("The server could not be reached.".into()),
    }
}
