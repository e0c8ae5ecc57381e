"""Admin actions that change state ask for a note first, on an intermediate page like Django's
own delete confirmation, then call the service for each selected object. A refused object
(wrong state, four-eyes, freeze...) is reported with the service's message; the others go on.
Add and change forms save through the service too, its refusal shown on the form."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse


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


def action_with_note(
    modeladmin, request, queryset, *, action, title, run, form_class=NoteForm, details=None
):
    """Show the note page; on confirm call `run(obj, **cleaned_data)` for each object.

    `details(obj)` may return HTML shown above the form (the scorecard before a decision).
    """
    form = form_class(request.POST if "confirm" in request.POST else None)
    if form.is_bound and form.is_valid():
        for obj in queryset:
            try:
                run(obj, **form.cleaned_data)
            except (ValidationError, PermissionDenied) as exc:
                modeladmin.message_user(request, f"{obj}: {refusal(exc)}", messages.ERROR)
            else:
                modeladmin.message_user(request, f"{obj}: {title.lower()} done", messages.SUCCESS)
        return None
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": opts,
        "title": title,
        "objects": [(obj, details(obj) if details else "") for obj in queryset],
        "form": form,
        "action": action,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/action_with_note.html", context)


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
