//! The WebSocket transport in the browser (web-sys).
//!
//! This module owns the socket and its handlers only: frames in and out as the
//! protocol's messages. It never reconnects; the connection sees the stream end
//! and does.

use std::cell::RefCell;
use std::rc::Rc;

use futures::StreamExt;
use futures::channel::oneshot;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use crate::protocol::{ClientEnd, ServerMessage, TransportError, transport};

pub(super) async fn connect(url: String) -> Result<ClientEnd, TransportError> {
    let error = |reason: String| TransportError {
        target: url.clone(),
        reason,
    };
    let socket = WebSocket::new(&url).map_err(|e| error(format!("{e:?}")))?;
    let (client, server) = transport::pair();
    // One sender, shared by the handlers: when the socket closes it is
    // dropped, which ends the client's stream, so the client sees the
    // disconnect and reconnects.
    let to_client = Rc::new(RefCell::new(Some(server.tx)));
    let mut from_client = server.rx;

    // Resolves on open (Ok) or on an error/close before it (Err).
    let (opened_tx, opened_rx) = oneshot::channel::<Result<(), String>>();
    let opened_tx = Rc::new(RefCell::new(Some(opened_tx)));

    let on_open = {
        let opened = opened_tx.clone();
        Closure::<dyn FnMut(Event)>::new(move |_| {
            if let Some(tx) = opened.borrow_mut().take() {
                let _ = tx.send(Ok(()));
            }
        })
    };
    let on_message = {
        let to_client = to_client.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else {
                return;
            };
            match ServerMessage::parse(&text) {
                Ok(message) => {
                    if let Some(tx) = to_client.borrow().as_ref() {
                        let _ = tx.unbounded_send(message);
                    }
                }
                Err(e) => tracing::warn!("unreadable message: {e}"),
            }
        })
    };
    let on_close = {
        let opened = opened_tx.clone();
        Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            if let Some(tx) = opened.borrow_mut().take() {
                let _ = tx.send(Err(format!("closed ({})", event.code())));
            }
            to_client.borrow_mut().take();
        })
    };
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));

    let opened = match opened_rx.await {
        Ok(result) => result,
        Err(_) => Err("socket dropped".into()),
    };
    if let Err(reason) = opened {
        // The handlers are dropped on return: the socket must not call them.
        socket.set_onopen(None);
        socket.set_onmessage(None);
        socket.set_onclose(None);
        return Err(error(reason));
    }

    // Outgoing: until the client drops its sender, then close the socket.
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(message) = from_client.next().await {
            let Ok(text) = serde_json::to_string(&message) else {
                continue;
            };
            if socket.send_with_str(&text).is_err() {
                break;
            }
        }
        socket.set_onopen(None);
        socket.set_onmessage(None);
        socket.set_onclose(None);
        let _ = socket.close();
        // The closures live as long as the socket used them.
        drop((on_open, on_message, on_close));
    });
    Ok(client)
}
