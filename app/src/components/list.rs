//! The one list every list page uses: a filter box, a page of rows from the server, paging,
//! an empty state, a table shell, and a reload after an action.

use std::future::Future;

use leptos::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    components::ui::{Alert, EmptyState, Loading, Pagination, SearchBox, Tone, table},
    error::AppError,
    model::{PAGE_SIZE, Page},
};

/// A column of a list's table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The heading; for a column of buttons, read only by screen readers.
    pub label: &'static str,
    /// Extra classes of the heading (`text-right`, `hidden md:table-cell`…).
    pub class: &'static str,
    /// The heading is for screen readers only.
    pub hidden: bool,
}

impl Column {
    pub const fn new(label: &'static str) -> Self {
        Self {
            label,
            class: "",
            hidden: false,
        }
    }

    /// With extra classes on the heading.
    pub const fn class(self, class: &'static str) -> Self {
        Self { class, ..self }
    }

    /// The actions column: buttons per row, a heading only screen readers read.
    pub const fn actions() -> Self {
        Self {
            label: "Actions",
            class: "",
            hidden: true,
        }
    }
}

/// What the list says when it has no rows at all (nothing filtered), and when the filter
/// matches none.
#[derive(Debug, Clone, Copy)]
pub struct Empty {
    pub title: &'static str,
    pub text: &'static str,
    pub no_match: &'static str,
}

/// A filtered, paged list of `T` shown as a table, one `row` per item.
///
/// `fetch(filter, page)` loads a page; the list loads again when the filter, the page or
/// `reload` changes (a page bumps `reload` after deleting a row, say). Typing in the filter
/// goes back to the first page.
#[component]
pub fn PagedList<T, Fetch, Fut, Row, RowView>(
    /// The filter box's label and placeholder.
    filter_label: &'static str,
    /// Loads a page of rows whose text contains the filter.
    fetch: Fetch,
    /// The table's columns, in order.
    columns: Vec<Column>,
    /// One table row (`<tr>`) for an item.
    row: Row,
    /// What an empty list says.
    empty: Empty,
    /// Bumped to load the page again.
    #[prop(optional)]
    reload: Option<RwSignal<u32>>,
    /// Shown on the filter's line, at its right (a "New…" link, say).
    #[prop(optional)]
    children: Option<ChildrenFn>,
) -> impl IntoView
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    Fetch: Fn(String, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Page<T>, AppError>> + Send + 'static,
    Row: Fn(T) -> RowView + Send + Sync + 'static,
    RowView: IntoView + 'static,
{
    let filter = RwSignal::new(String::new());
    let page = RwSignal::new(0u64);
    let reload = reload.unwrap_or_else(|| RwSignal::new(0));
    let list = Resource::new(
        move || (filter.get(), page.get(), reload.get()),
        move |(filter, page, _)| fetch(filter, page),
    );
    let row = StoredValue::new(row);
    let columns = StoredValue::new(columns);
    view! {
        <div class="space-y-4">
            <div class="flex flex-wrap items-center justify-between gap-3">
                <SearchBox label=filter_label value=filter on_change=Callback::new(move |_| page.set(0)) />
                {children.map(|children| children())}
            </div>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(found) if found.total == 0 && filter.get_untracked().is_empty() => {
                            view! { <EmptyState title=empty.title text=empty.text /> }.into_any()
                        }
                        Ok(found) if found.items.is_empty() => view! {
                            <p class="py-4 text-center text-sm text-slate-500">{empty.no_match}</p>
                            <Pagination page total=found.total page_size=PAGE_SIZE />
                        }
                            .into_any(),
                        Ok(found) => {
                            let total = found.total;
                            let rows = found
                                .items
                                .into_iter()
                                .map(|item| row.with_value(|row| row(item)))
                                .collect_view();
                            view! {
                                <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white px-4 shadow-sm">
                                    <table class=table::TABLE>
                                        <thead>
                                            <tr>{columns.with_value(|columns| columns.iter().map(heading).collect_view())}</tr>
                                        </thead>
                                        <tbody class="divide-y divide-slate-100">{rows}</tbody>
                                    </table>
                                </div>
                                <Pagination page total page_size=PAGE_SIZE />
                            }
                                .into_any()
                        }
                        Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

fn heading(column: &Column) -> impl IntoView + use<> {
    let class = format!("{} {}", table::TH, column.class);
    let label = column.label;
    if column.hidden {
        view! { <th scope="col" class=class><span class="sr-only">{label}</span></th> }.into_any()
    } else {
        view! { <th scope="col" class=class>{label}</th> }.into_any()
    }
}

/// A page of `items` (already in order) whose `text` contains `filter`, ignoring case: for
/// lists the server sends whole.
pub fn page_of<T>(items: Vec<T>, filter: &str, page: u64, text: impl Fn(&T) -> String) -> Page<T> {
    let needle = filter.trim().to_lowercase();
    let matching: Vec<T> = items
        .into_iter()
        .filter(|item| needle.is_empty() || text(item).to_lowercase().contains(&needle))
        .collect();
    let total = matching.len() as u64;
    let skip = usize::try_from(page.saturating_mul(PAGE_SIZE)).unwrap_or(usize::MAX);
    Page {
        items: matching
            .into_iter()
            .skip(skip)
            .take(PAGE_SIZE as usize)
            .collect(),
        total,
        page,
        page_size: PAGE_SIZE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_list_is_filtered_ignoring_case_and_paged() {
        let names: Vec<String> = (0..120).map(|i| format!("Lab {i}")).collect();
        let first = page_of(names.clone(), "", 0, Clone::clone);
        assert_eq!((first.items.len(), first.total), (PAGE_SIZE as usize, 120));
        let last = page_of(names.clone(), "", 2, Clone::clone);
        assert_eq!(last.items.len(), 20);
        let some = page_of(names, "LAB 1", 0, Clone::clone);
        assert_eq!(some.total, 31); // 1, 10–19, 100–119
        assert_eq!(some.items[0], "Lab 1");
    }
}
