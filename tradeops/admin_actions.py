"""Admin actions that change state ask for a note first, on an intermediate page like Django's
own delete confirmation, then call the service for each selected object. A refused object
(wrong state, four-eyes, freeze...) is reported with the service's message; the others go on.
Add and change forms save through the service too, its refusal shown on the form."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse


class NoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Why: it is kept in the audit history.",
    )


def refusal(exc):
    """The service's own words for why it refused."""
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc) or "permission denied"


def done_message(obj, result):
    """What an action did, in the words of the object's new state ("Experiment B: approved"):
    the service's result when it returns the object, else the object as stored now."""
    current = result if isinstance(result, type(obj)) else obj
    if current is obj:
        obj.refresh_from_db()
    noun = current._meta.verbose_name.capitalize()
    # Its name as the team says it (an experiment's name, an incident's title), not its __str__.
    name = getattr(current, "name", None) or getattr(current, "title", None) or current
    state = getattr(current, "get_status_display", None)
    return f"{noun} {name}: {state().lower()}" if state else f"{noun} {name}: done"


def action_with_note(
    modeladmin,
    request,
    queryset,
    *,
    action,
    title,
    run,
    form_class=NoteForm,
    details=None,
    check=None,
    done=None,
):
    """Show the note page; on confirm call `run(obj, **cleaned_data)` for each object.

    `details(obj)` may return HTML shown above the form (the scorecard before a decision).
    `check(obj, user)` is the service's own check (why not, or None), asked before the note: an
    object it refuses shows why, and with none left there is no note to type. `done(obj,
    result)` words a success (`done_message` by default). One object acted on lands back on its
    page.
    """
    objects = list(queryset)
    refused = {obj.pk: check(obj, request.user) for obj in objects} if check else {}
    form = form_class(request.POST if "confirm" in request.POST else None)
    if form.is_bound and form.is_valid():
        for obj in objects:
            try:
                result = run(obj, **form.cleaned_data)
            except (ValidationError, PermissionDenied) as exc:
                modeladmin.message_user(request, f"{obj}: {refusal(exc)}", messages.ERROR)
            else:
                message = (done or done_message)(obj, result)
                modeladmin.message_user(request, message, messages.SUCCESS)
        return _back_to(modeladmin, request, objects)
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": opts,
        "title": title,
        "objects": [(obj, details(obj) if details else "", refused.get(obj.pk)) for obj in objects],
        "can_confirm": not objects or not all(refused.get(obj.pk) for obj in objects),
        "form": form,
        "action": action,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/action_with_note.html", context)


def _back_to(modeladmin, request, objects):
    """The page of the one object acted on, if the person may see it; else the list (None)."""
    if len(objects) != 1 or not modeladmin.has_view_or_change_permission(request, objects[0]):
        return None
    opts = modeladmin.model._meta
    return HttpResponseRedirect(
        reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=[objects[0].pk],
            current_app=modeladmin.admin_site.name,
        )
    )


def note_action(description, permission, title=None, **options):
    """Decorate `method(self, request, obj, note, ...)` into an admin action with a note page."""

    def decorate(method):
        name = method.__name__

        @admin.action(description=description, permissions=[permission])
        def action(modeladmin, request, queryset):
            return action_with_note(
                modeladmin,
                request,
                queryset,
                action=name,
                title=title or description,
                run=lambda obj, **data: method(modeladmin, request, obj, **data),
                **options,
            )

        action.__name__ = name
        return action

    return decorate


class ServiceRefused(Exception):
    """A service's ValidationError while an admin form saved through it."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


def with_refusal(form_class, error):
    """`form_class` refusing with the service's `error`: each message on the field it is keyed
    by, else on the form's `refusal_field` if it has one (the field a keyed param error belongs
    to), else above the form."""

    class Refused(form_class):
        def clean(self):
            data = super().clean()
            if not hasattr(error, "error_dict"):
                self.add_error(None, error.messages)
                return data
            spill = getattr(self, "refusal_field", None)
            spill = spill if spill in self.fields else None
            for key, texts in error.message_dict.items():
                self.add_error(key if key in self.fields else spill, texts)
            return data

    Refused.__name__ = form_class.__name__
    return Refused


class ServiceFormMixin:
    """Add and change forms save through a service, which validates, saves and audits in one
    place: `save_model` calls `create(request, form)` on the add page (returning the object it
    saved) and `edit(request, obj, form)` on the change page (a plain save unless overridden).

    A ValidationError of the service shows on the form as the form's own errors would: the
    failed save rolls back and the add/change view runs once more on the same POST with the
    refusal added to the form (`with_refusal`), so the rule keeps its one home, the service. An
    `add_form`, if set, is the form of the add page."""

    add_form = None

    def get_form(self, request, obj=None, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs["form"] = self.add_form
        form_class = super().get_form(request, obj, **kwargs)
        refusal = getattr(request, "_service_refusal", None)
        return form_class if refusal is None else with_refusal(form_class, refusal)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            request._service_refusal = refused.error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def edit(self, request, obj, form):
        super().save_model(request, obj, form, True)

    def save_model(self, request, obj, form, change):
        try:
            saved = self.edit(request, obj, form) if change else self.create(request, form)
        except ValidationError as exc:
            raise ServiceRefused(exc) from exc
        if not change:  # the unsaved instance of save_form becomes the row the service made
            obj.pk = saved.pk
            obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        if change:  # the service saved everything of a new object
            super().save_related(request, form, formsets, change)
