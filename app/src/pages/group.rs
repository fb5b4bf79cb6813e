//! One group: its name, description and menu, and its members (chosen among the
//! organization's).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    api::{
        groups::{SetGroupMembers, UpdateGroup, group},
        members::members,
    },
    components::{
        feedback::use_toasts,
        org_frame::{OrgTab, org_href, use_org_id},
        ui::{Alert, ButtonKind, Card, Field, INPUT_CLASSES, Loading, Tone, field_error},
    },
    error::AppError,
    forms::DESCRIPTION_MAX,
    model::{Choice, GroupDetail},
    pages::{
        groups::{MenuSelect, menu_choices_resource},
        id_param,
    },
    validate::{Label, NAME_MAX, USERNAME_MAX, Username},
};

/// `/org/:org/groups/:group`.
#[component]
pub fn GroupPage() -> impl IntoView {
    let organization_id = use_org_id();
    let group_id = id_param("group");
    let choices = menu_choices_resource(organization_id);
    let loaded = Resource::new(
        move || group_id.get(),
        move |id| async move {
            match id {
                Some(id) => group(organization_id, id).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    view! {
        <Title text="Group" />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(detail) => view! { <GroupEditor organization_id detail choices /> }.into_any(),
                    Err(error) => view! { <Alert tone=Tone::Error>{error.to_string()}</Alert> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn GroupEditor(
    organization_id: i32,
    detail: GroupDetail,
    choices: Resource<Result<Vec<Choice>, AppError>>,
) -> impl IntoView {
    let group_id = detail.group.id;
    view! {
        <div class="space-y-6">
            <A href=org_href(organization_id, OrgTab::Groups) attr:class="text-sm text-indigo-700 hover:underline">
                "← All groups"
            </A>
            <div class="grid gap-6 lg:grid-cols-2">
                <GroupSettings organization_id detail=detail.clone() choices />
                <GroupMembers organization_id group_id initial=detail.members />
            </div>
        </div>
    }
}

#[component]
fn GroupSettings(
    organization_id: i32,
    detail: GroupDetail,
    choices: Resource<Result<Vec<Choice>, AppError>>,
) -> impl IntoView {
    let toasts = use_toasts();
    let group_id = detail.group.id;
    let name = RwSignal::new(detail.group.name.clone());
    let description = RwSignal::new(detail.group.description.clone());
    let menu = RwSignal::new(detail.group.menu_id);
    let update = ServerAction::<UpdateGroup>::new();
    let server = move || update.value().get().and_then(Result::err);
    let name_error = Signal::derive(move || {
        Label::name(&name.get(), "group")
            .err()
            .or_else(|| server().and_then(|e| e.field_message("name")))
    });
    let description_error = Signal::derive(move || {
        (description.get().chars().count() > DESCRIPTION_MAX)
            .then(|| format!("A description has at most {DESCRIPTION_MAX} characters."))
            .or_else(|| server().and_then(|e| e.field_message("description")))
    });
    let menu_error = Signal::derive(move || server().and_then(|e| e.field_message("menu_id")));
    Effect::new(move || {
        if let Some(Ok(())) = update.value().get() {
            toasts.success("The group was saved.");
            update.value().set(None);
        }
    });
    view! {
        <Card title="Group">
            <form
                class="space-y-3"
                novalidate=true
                on:submit=move |ev| {
                    ev.prevent_default();
                    if name_error.get_untracked().is_none() && description_error.get_untracked().is_none() {
                        update.dispatch(UpdateGroup {
                            organization_id,
                            group_id,
                            name: name.get_untracked(),
                            description: description.get_untracked(),
                            menu_id: menu.get_untracked(),
                        });
                    }
                }
            >
                {move || server().filter(|e| ["name", "description", "menu_id"].iter().all(|f| e.field_message(f).is_none()))
                    .map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
                <Field label="Name" id="group-name" value=name error=name_error maxlength=NAME_MAX />
                <Field label="Description" id="group-description" value=description error=description_error maxlength=DESCRIPTION_MAX />
                <MenuSelect choices id="group-menu" value=menu error=menu_error />
                <button type="submit" class=ButtonKind::Primary.classes() disabled=move || update.pending().get()>
                    {move || if update.pending().get() { "Saving…" } else { "Save group" }}
                </button>
            </form>
        </Card>
    }
}

#[component]
fn GroupMembers(organization_id: i32, group_id: i32, initial: Vec<String>) -> impl IntoView {
    let toasts = use_toasts();
    let chosen = RwSignal::new(initial.clone());
    let saved = RwSignal::new(initial);
    let typed = RwSignal::new(String::new());
    let save = ServerAction::<SetGroupMembers>::new();
    // Suggestions come as the user types, in the browser only.
    let suggestions = LocalResource::new(move || {
        let filter = typed.get();
        async move {
            if filter.trim().is_empty() {
                return Vec::new();
            }
            members(organization_id, filter, 0)
                .await
                .map(|page| page.items.into_iter().map(|m| m.username).collect())
                .unwrap_or_default()
        }
    });
    // Only what is typed is checked here; the server's answer is about the whole list.
    let typed_error = Signal::derive(move || {
        field_error(
            &typed.get(),
            false,
            |v| Username::parse(v).err(),
            None,
            "username",
        )
    });
    let server = move || save.value().get().and_then(Result::err);
    Effect::new(move || {
        if let Some(Ok(())) = save.value().get() {
            saved.set(chosen.get_untracked());
            toasts.success("The members were saved.");
            save.value().set(None);
        }
    });
    let add = move || {
        if let Ok(name) = Username::parse(&typed.get_untracked()) {
            let name = name.as_str().to_owned();
            chosen.update(|list| {
                if !list.contains(&name) {
                    list.push(name);
                    list.sort();
                }
            });
            typed.set(String::new());
        }
    };
    view! {
        <Card title="Members">
            <div class="space-y-3">
                {move || server().map(|e| view! { <Alert tone=Tone::Error>{e.to_string()}</Alert> })}
                <ul class="flex flex-wrap gap-2" data-testid="group-members">
                    {move || {
                        chosen
                            .get()
                            .into_iter()
                            .map(|name| {
                                let gone = name.clone();
                                view! {
                                    <li class="inline-flex items-center gap-1 rounded-full bg-slate-100 py-0.5 pl-3 pr-1 text-sm">
                                        {name.clone()}
                                        <button
                                            type="button"
                                            class=ButtonKind::Quiet.classes()
                                            aria-label=format!("Take {name} out of the group")
                                            on:click=move |_| chosen.update(|l| l.retain(|n| *n != gone))
                                        >
                                            "✕"
                                        </button>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                    <Show when=move || chosen.with(Vec::is_empty)>
                        <li class="text-sm text-slate-500">"Nobody is in this group yet."</li>
                    </Show>
                </ul>
                <form
                    class="flex items-end gap-2"
                    novalidate=true
                    on:submit=move |ev| {
                        ev.prevent_default();
                        add();
                    }
                >
                    <div class="flex-1 space-y-1">
                        <label for="group-add-member" class="block text-sm font-medium text-slate-700">"Add a member of the organization"</label>
                        <input
                            id="group-add-member"
                            list="group-member-suggestions"
                            class=INPUT_CLASSES
                            maxlength=USERNAME_MAX
                            aria-invalid=move || typed_error.get().is_some().to_string()
                            prop:value=move || typed.get()
                            on:input=move |ev| typed.set(event_target_value(&ev))
                        />
                        <datalist id="group-member-suggestions">
                            {move || {
                                suggestions
                                    .get()
                                    .unwrap_or_default()
                                    .into_iter()
                                    .map(|n| view! { <option value=n></option> })
                                    .collect_view()
                            }}
                        </datalist>
                        {move || typed_error.get().map(|e| view! { <p class="text-sm text-red-600">{e}</p> })}
                    </div>
                    <button type="submit" class=ButtonKind::Secondary.classes()>"Add"</button>
                </form>
                <div class="flex items-center justify-between gap-3 border-t border-slate-200 pt-3">
                    <span class="text-sm text-slate-500">
                        {move || if chosen.get() == saved.get() { "Saved" } else { "Unsaved changes" }}
                    </span>
                    <button
                        type="button"
                        class=ButtonKind::Primary.classes()
                        disabled=move || save.pending().get() || chosen.get() == saved.get()
                        on:click=move |_| {
                            save.dispatch(SetGroupMembers {
                                organization_id,
                                group_id,
                                usernames: chosen.get_untracked(),
                            });
                        }
                    >
                        {move || if save.pending().get() { "Saving…" } else { "Save members" }}
                    </button>
                </div>
            </div>
        </Card>
    }
}
