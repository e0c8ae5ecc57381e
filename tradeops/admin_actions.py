"""Admin actions that change state ask for a note first, on an intermediate page like Django's
own delete confirmation, then call the service for each selected object. A refused object
(wrong state, four-eyes, freeze...) is reported with the service's message; the others go on."""

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


class ServiceCreateMixin:
    """The add form saves through a service, which validates, saves and audits in one place:
    subclasses implement `create(request, cleaned_data)` and return the saved object. An
    `add_form`, if set, is the form of the add page."""

    add_form = None

    def get_form(self, request, obj=None, **kwargs):
        if obj is None and self.add_form is not None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def save_form(self, request, form, change):
        if change:
            return super().save_form(request, form, change)
        return self.create(request, form.cleaned_data)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if change:  # the service saved everything of a new object
            super().save_related(request, form, formsets, change)
