//! The menu editor's board: a palette of what a menu can hold, and the menu's entries, with
//! drag and drop by pointer (mouse, pen, touch) and the same operations by keyboard.

use leptos::{ev, prelude::*};
use std::collections::HashMap;

use crate::{
    boot::{BootImage, ImageKind, MenuAction, MenuEntry, MenuItem},
    components::ui::{ButtonKind, INPUT_CLASSES},
    forms::check_entry,
    ipxe::menu::entry_text,
};

/// How far (in CSS pixels) a pointer moves before a press becomes a drag.
const DRAG_THRESHOLD: i32 = 4;
/// The most images the palette lists at once; the filter finds the others.
const PALETTE_IMAGES_SHOWN: usize = 100;

/// One entry in the editor; the key keeps its row (and focus) while entries move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: u64,
    pub entry: MenuEntry,
}

/// The entries being edited, and the operations on them.
#[derive(Debug, Clone, Copy)]
pub struct Board {
    pub rows: RwSignal<Vec<Row>>,
    next_key: StoredValue<u64>,
    /// What the last operation did, for screen readers.
    pub announcement: RwSignal<String>,
    /// Image titles by id.
    titles: StoredValue<HashMap<i32, String>>,
    /// The entry that gets focus back after a move or removal. The browser takes focus away
    /// from a row while the row is moved in the page; until the row has it again, keys that
    /// land on the page are this entry's (see [`MenuBoard`]), so none is lost.
    refocus: StoredValue<Option<u64>>,
}

impl Board {
    /// A board holding `entries`, labelled with the titles of `images`.
    pub fn new(entries: &[MenuEntry], images: &[BootImage]) -> Self {
        let board = Self {
            rows: RwSignal::new(Vec::new()),
            next_key: StoredValue::new(0),
            announcement: RwSignal::new(String::new()),
            titles: StoredValue::new(images.iter().map(|i| (i.id, i.title.clone())).collect()),
            refocus: StoredValue::new(None),
        };
        board.reset(entries);
        board
    }

    /// Replaces every entry (after a save or a reload).
    pub fn reset(&self, entries: &[MenuEntry]) {
        let rows = entries
            .iter()
            .cloned()
            .map(|entry| self.row(entry))
            .collect();
        self.rows.set(rows);
    }

    fn row(&self, entry: MenuEntry) -> Row {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        Row { key, entry }
    }

    /// The entries in order.
    pub fn entries(&self) -> Vec<MenuEntry> {
        self.rows
            .with(|rows| rows.iter().map(|r| r.entry.clone()).collect())
    }

    /// The image titles by id, for the preview.
    pub fn titles(&self) -> HashMap<i32, String> {
        self.titles.get_value()
    }

    /// What an item reads as in the editor.
    pub fn label(&self, item: &MenuItem) -> String {
        match item {
            MenuItem::Separator { text } if text.trim().is_empty() => "Separator".into(),
            MenuItem::Separator { text } => format!("Separator: {text}"),
            item => self.titles.with_value(|titles| entry_text(item, titles)),
        }
    }

    fn position(&self, key: u64) -> Option<usize> {
        self.rows
            .with_untracked(|rows| rows.iter().position(|r| r.key == key))
    }

    fn announce(&self, text: String) {
        self.announcement.set(text);
    }

    /// Puts a new entry at `index`.
    pub fn insert(&self, index: usize, item: MenuItem) {
        let label = self.label(&item);
        let row = self.row(MenuEntry {
            item,
            is_default: false,
        });
        let key = row.key;
        let mut position = 0;
        self.rows.update(|rows| {
            position = index.min(rows.len());
            rows.insert(position, row);
        });
        self.announce(format!("Added {label} at position {}.", position + 1));
        self.focus_entry(key);
    }

    /// Moves an entry so that it lands before the entry now at `index` (or at the end).
    pub fn move_to(&self, key: u64, index: usize) {
        let Some(from) = self.position(key) else {
            return;
        };
        let mut label = String::new();
        let mut position = 0;
        self.rows.update(|rows| {
            let row = rows.remove(from);
            label = self.label(&row.entry.item);
            position = if index > from { index - 1 } else { index }.min(rows.len());
            rows.insert(position, row);
        });
        self.announce(format!("Moved {label} to position {}.", position + 1));
        self.focus_entry(key);
    }

    /// Moves an entry up (`-1`) or down (`1`) one place.
    pub fn move_by(&self, key: u64, delta: isize) {
        let Some(from) = self.position(key) else {
            return;
        };
        let count = self.rows.with_untracked(Vec::len);
        let to = from as isize + delta;
        if to < 0 || to as usize >= count {
            return;
        }
        let to = to as usize;
        self.move_to(key, if to > from { to + 1 } else { to });
    }

    /// Takes an entry out of the menu.
    pub fn remove(&self, key: u64) {
        let Some(index) = self.position(key) else {
            return;
        };
        let mut label = String::new();
        let mut next = None;
        self.rows.update(|rows| {
            let row = rows.remove(index);
            label = self.label(&row.entry.item);
            next = rows.get(index).or_else(|| rows.last()).map(|r| r.key);
        });
        self.announce(format!("Removed {label}."));
        if let Some(next) = next {
            self.focus_entry(next);
        }
    }

    /// Makes an entry the default, or no entry when it already was.
    pub fn toggle_default(&self, key: u64) {
        self.rows.update(|rows| {
            let was = rows.iter().any(|r| r.key == key && r.entry.is_default);
            for row in rows.iter_mut() {
                row.entry.is_default = !was && row.key == key;
            }
        });
    }

    /// Changes an entry's separator text or chain URL.
    pub fn set_text(&self, key: u64, value: String) {
        self.rows.update(|rows| {
            if let Some(row) = rows.iter_mut().find(|r| r.key == key) {
                match &mut row.entry.item {
                    MenuItem::Separator { text } => *text = value,
                    MenuItem::Action { url, .. } => *url = Some(value),
                    MenuItem::Image { .. } => {}
                }
            }
        });
    }

    /// Gives an entry's row the focus once the page shows it in its new place: right after
    /// the page is updated, and again when the browser next draws, in case the update moved
    /// the row after that.
    fn focus_entry(&self, key: u64) {
        self.refocus.set_value(Some(key));
        #[cfg(feature = "hydrate")]
        {
            let board = *self;
            leptos::task::spawn_local(async move { board.restore_focus(false) });
            request_animation_frame(move || board.restore_focus(true));
        }
    }

    /// Focuses the entry waiting for focus, if it is still the one; `last` ends the wait.
    #[cfg(feature = "hydrate")]
    fn restore_focus(&self, last: bool) {
        use wasm_bindgen::JsCast;
        let Some(key) = self.refocus.get_value() else {
            return;
        };
        if let Some(element) = document()
            .get_element_by_id(&format!("entry-{key}"))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
        if last {
            self.refocus.set_value(None);
        }
    }

    /// Handles a key meant for the entry `key`: Alt+↑/↓ move it, Delete or Backspace remove
    /// it. Returns whether the key was one of these.
    fn entry_key(&self, key: u64, pressed: &str, alt: bool) -> bool {
        match (pressed, alt) {
            ("ArrowUp", true) => self.move_by(key, -1),
            ("ArrowDown", true) => self.move_by(key, 1),
            ("Delete", _) | ("Backspace", _) => self.remove(key),
            _ => return false,
        }
        true
    }
}

/// Whether a key event went to the page itself rather than to an element with focus: what
/// happens to keys pressed while a row is being moved.
fn went_to_page(ev: &ev::KeyboardEvent) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let body = document().body().map(web_sys::EventTarget::from);
        let root = document()
            .document_element()
            .map(web_sys::EventTarget::from);
        let target = ev.target();
        target.is_none() || target == body || target == root
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        false
    }
}

/// Where a drag started.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DragSource {
    Palette(MenuItem),
    Entry(u64),
}

/// A press on a palette item or an entry, which becomes a drag once the pointer moves.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Drag {
    source: DragSource,
    label: String,
    start: (i32, i32),
    at: (i32, i32),
    moving: bool,
}

/// Where a dragged thing would land.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Before the entry at this index (the entry count: at the end).
    Menu(usize),
    /// Anywhere outside the menu: an entry dropped there leaves it.
    Outside,
}

/// Finds what lies under the pointer: an entry (and which half of it), the menu's empty area,
/// or neither.
fn target_at(board: Board, x: i32, y: i32) -> Target {
    #[cfg(feature = "hydrate")]
    {
        let Some(element) = document().element_from_point(x as f32, y as f32) else {
            return Target::Outside;
        };
        if let Ok(Some(row)) = element.closest("[data-entry-key]") {
            let key: Option<u64> = row
                .get_attribute("data-entry-key")
                .and_then(|k| k.parse().ok());
            if let Some(index) = key.and_then(|k| board.position(k)) {
                let rect = row.get_bounding_client_rect();
                let lower_half = f64::from(y) > rect.top() + rect.height() / 2.0;
                return Target::Menu(index + usize::from(lower_half));
            }
        }
        if let Ok(Some(_)) = element.closest("[data-menu-entries]") {
            return Target::Menu(board.rows.with_untracked(Vec::len));
        }
        Target::Outside
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (board, x, y);
        Target::Outside
    }
}

/// The palette and the menu's entries, side by side (stacked on a phone).
#[component]
pub fn MenuBoard(
    board: Board,
    /// The organization's images, by title.
    images: Vec<BootImage>,
    /// Server-side errors by entry position (1-based), shown on their rows.
    #[prop(into)]
    server_errors: Signal<HashMap<usize, String>>,
) -> impl IntoView {
    let drag = RwSignal::new(None::<Drag>);
    let target = RwSignal::new(None::<Target>);

    let begin = move |ev: &ev::PointerEvent, source: DragSource, label: String| {
        if ev.button() != 0 || pressed_a_control(ev) {
            return;
        }
        ev.prevent_default();
        let at = (ev.client_x(), ev.client_y());
        drag.set(Some(Drag {
            source,
            label,
            start: at,
            at,
            moving: false,
        }));
    };
    let moved = window_event_listener(ev::pointermove, move |ev| {
        let Some(current) = drag.get_untracked() else {
            return;
        };
        let at = (ev.client_x(), ev.client_y());
        let far = (at.0 - current.start.0).abs() + (at.1 - current.start.1).abs() > DRAG_THRESHOLD;
        if current.moving || far {
            drag.set(Some(Drag {
                at,
                moving: true,
                ..current
            }));
            target.set(Some(target_at(board, at.0, at.1)));
        }
    });
    let dropped = window_event_listener(ev::pointerup, move |_| {
        let (Some(done), landing) = (drag.get_untracked(), target.get_untracked()) else {
            return;
        };
        drag.set(None);
        target.set(None);
        if !done.moving {
            return;
        }
        match (done.source, landing) {
            (DragSource::Palette(item), Some(Target::Menu(index))) => board.insert(index, item),
            (DragSource::Entry(key), Some(Target::Menu(index))) => board.move_to(key, index),
            (DragSource::Entry(key), Some(Target::Outside)) => board.remove(key),
            _ => {}
        }
    });
    let cancelled = window_event_listener(ev::pointercancel, move |_| {
        drag.set(None);
        target.set(None);
    });
    // A key pressed while a moved row is out of the page (and so without focus) lands on the
    // page: it is the moved entry's, as if the row had kept focus.
    let stray_key = window_event_listener(ev::keydown, move |ev| {
        let Some(key) = board.refocus.get_value() else {
            return;
        };
        if went_to_page(&ev) && board.entry_key(key, &ev.key(), ev.alt_key()) {
            ev.prevent_default();
        }
    });
    on_cleanup(move || {
        moved.remove();
        dropped.remove();
        cancelled.remove();
        stray_key.remove();
    });

    let dragging_entry = move |key: u64| {
        drag.with(|d| {
            matches!(d, Some(Drag { source: DragSource::Entry(k), moving: true, .. }) if *k == key)
        })
    };
    let drop_before = move |index: usize| {
        drag.with(|d| d.as_ref().is_some_and(|d| d.moving))
            && target.get() == Some(Target::Menu(index))
    };

    view! {
        <div class="grid gap-4 md:grid-cols-5">
            <Palette board images begin />
            <section class="min-w-0 space-y-2 md:col-span-3" aria-labelledby="entries-heading">
                <h2 id="entries-heading" class="text-sm font-semibold text-slate-700">"Menu entries"</h2>
                <p class="text-xs text-slate-500">
                    "Drag to reorder, or focus an entry and press Alt+↑ / Alt+↓; Delete removes it. Drag an entry out of the menu to remove it."
                </p>
                <ol
                    data-menu-entries=""
                    data-testid="menu-entries"
                    aria-label="Menu entries"
                    class=move || {
                        let over = target.get() == Some(Target::Menu(board.rows.with(Vec::len)))
                            && board.rows.with(Vec::is_empty);
                        format!(
                            "min-h-32 space-y-1 rounded-lg border-2 border-dashed p-2 {}",
                            if over { "border-indigo-400 bg-indigo-50" } else { "border-slate-200 bg-white" },
                        )
                    }
                >
                    <Show when=move || board.rows.with(Vec::is_empty)>
                        <li class="py-8 text-center text-sm text-slate-500">
                            "Drag images and actions here, or use their Add buttons."
                        </li>
                    </Show>
                    <For each=move || board.rows.get() key=|row| row.key let:row>
                        <EntryRow board entry_key=row.key server_errors dragging=Signal::derive(move || dragging_entry(row.key)) drop_before begin />
                    </For>
                </ol>
                <p class="sr-only" aria-live="assertive" data-testid="announcement">
                    {move || board.announcement.get()}
                </p>
            </section>
        </div>
        {move || {
            drag.get()
                .filter(|d| d.moving)
                .map(|d| {
                    view! {
                        <div
                            class="pointer-events-none fixed z-50 -translate-y-1/2 rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-lg"
                            style=format!("left: {}px; top: {}px;", d.at.0 + 12, d.at.1)
                            data-testid="drag-ghost"
                        >
                            {d.label}
                        </div>
                    }
                })
        }}
    }
}

/// Whether a press landed on a button, input or link inside a draggable thing: those keep
/// their own meaning.
fn pressed_a_control(ev: &ev::PointerEvent) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        ev.target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| {
                e.closest("button, input, select, textarea, a")
                    .ok()
                    .flatten()
            })
            .is_some()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        false
    }
}

#[component]
fn Palette<B>(board: Board, images: Vec<BootImage>, begin: B) -> impl IntoView
where
    B: Fn(&ev::PointerEvent, DragSource, String) + Copy + Send + Sync + 'static,
{
    let filter = RwSignal::new(String::new());
    let images = StoredValue::new(images);
    let shown = move || {
        let needle = filter.get().trim().to_lowercase();
        images.with_value(|all| {
            all.iter()
                .filter(|i| needle.is_empty() || i.title.to_lowercase().contains(&needle))
                .take(PALETTE_IMAGES_SHOWN)
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let total = images.with_value(Vec::len);
    let item = move |item: MenuItem, label: String, detail: &'static str| {
        let drag_item = item.clone();
        let drag_label = label.clone();
        view! {
            <li
                data-palette-item=label.clone()
                class="flex cursor-grab touch-none select-none items-center gap-2 rounded-md border border-slate-200 bg-white px-2 py-1.5 text-sm shadow-sm hover:border-indigo-300 active:cursor-grabbing"
                on:pointerdown=move |ev| begin(&ev, DragSource::Palette(drag_item.clone()), drag_label.clone())
            >
                <span aria-hidden="true" class="text-slate-400">"⠿"</span>
                <span class="min-w-0 flex-1">
                    <span class="block truncate font-medium">{label.clone()}</span>
                    <span class="block text-xs text-slate-500">{detail}</span>
                </span>
                <button
                    type="button"
                    class=ButtonKind::Quiet.classes()
                    aria-label=format!("Add {label} to the menu")
                    on:click=move |_| board.insert(usize::MAX, item.clone())
                >
                    "Add"
                </button>
            </li>
        }
    };
    view! {
        <section class="min-w-0 space-y-3 md:col-span-2" aria-labelledby="palette-heading" data-palette="">
            <h2 id="palette-heading" class="text-sm font-semibold text-slate-700">"Palette"</h2>
            <div class="space-y-2">
                <h3 class="text-xs font-semibold uppercase tracking-wide text-slate-500">"Images"</h3>
                <Show when=move || { total > 8 }>
                    <label class="block">
                        <span class="sr-only">"Filter images"</span>
                        <input
                            type="search"
                            placeholder="Filter images"
                            class=INPUT_CLASSES
                            prop:value=move || filter.get()
                            on:input=move |ev| filter.set(event_target_value(&ev))
                        />
                    </label>
                </Show>
                <ul class="space-y-1" data-testid="palette-images">
                    {move || {
                        let list = shown();
                        if total == 0 {
                            return view! { <li class="text-sm text-slate-500">"This organization has no images yet."</li> }.into_any();
                        }
                        list.into_iter()
                            .map(|image| {
                                let detail = match image.kind {
                                    ImageKind::KernelInitrd => "kernel + initrd",
                                    ImageKind::Iso => "ISO",
                                };
                                item(MenuItem::Image { image_id: image.id }, image.title, detail)
                            })
                            .collect_view()
                            .into_any()
                    }}
                </ul>
            </div>
            <div class="space-y-2">
                <h3 class="text-xs font-semibold uppercase tracking-wide text-slate-500">"Layout and actions"</h3>
                <ul class="space-y-1" data-testid="palette-actions">
                    {item(MenuItem::Separator { text: String::new() }, "Separator".into(), "a line of text between entries")}
                    {MenuAction::ALL
                        .into_iter()
                        .map(|action| {
                            let url = (action == MenuAction::Chain).then(String::new);
                            item(MenuItem::Action { action, url }, action.label().into(), "action")
                        })
                        .collect_view()}
                </ul>
            </div>
        </section>
    }
}

#[component]
fn EntryRow<B, D>(
    board: Board,
    entry_key: u64,
    server_errors: Signal<HashMap<usize, String>>,
    dragging: Signal<bool>,
    drop_before: D,
    begin: B,
) -> impl IntoView
where
    B: Fn(&ev::PointerEvent, DragSource, String) + Copy + Send + Sync + 'static,
    D: Fn(usize) -> bool + Copy + Send + Sync + 'static,
{
    let key = entry_key;
    let entry = Memo::new(move |_| {
        board
            .rows
            .with(|rows| rows.iter().find(|r| r.key == key).map(|r| r.entry.clone()))
    });
    let index = Memo::new(move |_| {
        board
            .rows
            .with(|rows| rows.iter().position(|r| r.key == key))
            .unwrap_or(0)
    });
    let count = move || board.rows.with(Vec::len);
    let label = move || {
        entry
            .get()
            .map(|e| board.label(&e.item))
            .unwrap_or_default()
    };
    let error = move || {
        let entry = entry.get()?;
        check_entry(&entry)
            .err()
            .or_else(|| server_errors.get().get(&(index.get() + 1)).cloned())
    };
    let is_default = move || entry.get().is_some_and(|e| e.is_default);
    let bootable = move || {
        entry
            .get()
            .is_some_and(|e| !matches!(e.item, MenuItem::Separator { .. }))
    };
    let on_key = move |ev: ev::KeyboardEvent| {
        // Keys typed into the row's own text box are text, not commands.
        if ev.target() != ev.current_target() {
            return;
        }
        if board.entry_key(key, &ev.key(), ev.alt_key()) {
            ev.prevent_default();
        }
    };
    // The text box is made once per kind of entry, not per keystroke, so it keeps focus.
    let has_text = Memo::new(move |_| {
        entry.with(|e| match e.as_ref().map(|e| &e.item) {
            Some(MenuItem::Separator { .. }) => Some(true),
            Some(MenuItem::Action {
                action: MenuAction::Chain,
                ..
            }) => Some(false),
            _ => None,
        })
    });
    let text_field = move || {
        let is_separator = has_text.get()?;
        let value = entry.with_untracked(|e| match e.as_ref().map(|e| &e.item) {
            Some(MenuItem::Separator { text }) => text.clone(),
            Some(MenuItem::Action { url, .. }) => url.clone().unwrap_or_default(),
            _ => String::new(),
        });
        let (name, placeholder) = if is_separator {
            ("Separator text", "Text shown between entries (optional)")
        } else {
            ("Chain URL", "http://boot.example.org/other.ipxe")
        };
        Some(view! {
            <input
                type="text"
                class=format!("{INPUT_CLASSES} mt-1")
                aria-label=move || format!("{name} of entry {}", index.get() + 1)
                placeholder=placeholder
                maxlength=crate::boot::URL_MAX
                prop:value=value
                on:input=move |ev| board.set_text(key, event_target_value(&ev))
            />
        })
    };
    view! {
        <li
            id=format!("entry-{key}")
            data-entry-key=key.to_string()
            data-testid="menu-entry"
            tabindex="0"
            aria-label=move || format!("Entry {} of {}: {}", index.get() + 1, count(), label())
            class=move || {
                format!(
                    "group relative rounded-md border bg-white px-2 py-1.5 text-sm shadow-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 {}",
                    if dragging.get() { "border-indigo-300 opacity-40" } else { "border-slate-200" },
                )
            }
            on:keydown=on_key
        >
            // Where a drop would land: drawn over the gap, so that showing it moves nothing.
            <div
                aria-hidden="true"
                class=move || {
                    let last = index.get() + 1 == count();
                    if drop_before(index.get()) {
                        "pointer-events-none absolute -top-1 left-0 right-0 h-0.5 rounded bg-indigo-500"
                    } else if last && drop_before(count()) {
                        "pointer-events-none absolute -bottom-1 left-0 right-0 h-0.5 rounded bg-indigo-500"
                    } else {
                        "hidden"
                    }
                }
            ></div>
            <div class="flex items-center gap-2">
                <span
                    class="cursor-grab touch-none select-none px-1 text-slate-400 active:cursor-grabbing"
                    aria-hidden="true"
                    data-testid="drag-handle"
                    on:pointerdown=move |ev| begin(&ev, DragSource::Entry(key), label())
                >
                    "⠿"
                </span>
                <span class="w-6 text-right text-xs tabular-nums text-slate-400">{move || index.get() + 1}</span>
                <span class="min-w-0 flex-1 truncate font-medium" data-testid="entry-label">{label}</span>
                <Show when=bootable>
                    <button
                        type="button"
                        class=move || format!("{} {}", ButtonKind::Quiet.classes(), if is_default() { "bg-indigo-100 text-indigo-800" } else { "" })
                        aria-pressed=move || is_default().to_string()
                        aria-label=move || format!("Make {} the default", label())
                        on:click=move |_| board.toggle_default(key)
                    >
                        {move || if is_default() { "Default" } else { "Set default" }}
                    </button>
                </Show>
                <button type="button" class=ButtonKind::Quiet.classes()
                    aria-label=move || format!("Move {} up", label())
                    disabled=move || index.get() == 0
                    on:click=move |_| board.move_by(key, -1)>"↑"</button>
                <button type="button" class=ButtonKind::Quiet.classes()
                    aria-label=move || format!("Move {} down", label())
                    disabled=move || { index.get() + 1 >= count() }
                    on:click=move |_| board.move_by(key, 1)>"↓"</button>
                <button type="button" class=ButtonKind::Quiet.classes()
                    aria-label=move || format!("Remove {}", label())
                    on:click=move |_| board.remove(key)>"✕"</button>
            </div>
            {text_field}
            {move || error().map(|e| view! { <p class="mt-1 text-xs text-red-600" data-testid="entry-error">{e}</p> })}
        </li>
    }
}
