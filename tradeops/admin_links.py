"""A read-only foreign key shows on an admin change page as a link to its object's page, whether
or not the viewer may open that page: a link to a user ("Created by", "Approved by") answered
403 to every role, since no role views users. Such a field shows as plain text instead, to who
may not view its model; the link stays for who may (a superuser, for users)."""


class ShownAsText:
    """A read-only field drawn as its object's name, without the admin's link."""

    def __init__(self, field, empty):
        self.name, self.empty = field.name, empty
        self.__name__ = field.name  # the row keeps the field's CSS class
        self.short_description = field.verbose_name

    def __call__(self, obj):
        value = getattr(obj, self.name)
        return self.empty if value is None else str(value)


def _swap(fields, as_text):
    return [
        as_text.get(field, field) if isinstance(field, str) else _swap(field, as_text)
        for field in fields
    ]


class LinksTheViewerMayOpen:
    """Mixed into every TradeOps admin with read-only foreign keys: ReadOnlyAdmin, and the
    change pages with an audit history (releases, freezes, experiments, scaling steps)."""

    def unopenable_fields(self, request, names):
        """{name: ShownAsText} for the foreign keys among `names` whose model the viewer may
        not view in this admin site."""
        as_text = {}
        for name in names:
            field = next((f for f in self.model._meta.fields if f.name == name), None)
            if field is None or not field.is_relation:
                continue
            target = self.admin_site._registry.get(field.related_model)
            if target is not None and not target.has_view_permission(request):
                as_text[name] = ShownAsText(field, self.get_empty_value_display())
        return as_text

    def render_change_form(self, request, context, *args, **kwargs):
        adminform = context.get("adminform")
        if adminform is not None:
            readonly = [name for name in adminform.readonly_fields if isinstance(name, str)]
            as_text = self.unopenable_fields(request, readonly)
            if as_text:
                adminform.fieldsets = [
                    (name, {**options, "fields": _swap(options["fields"], as_text)})
                    for name, options in adminform.fieldsets
                ]
                adminform.readonly_fields = _swap(adminform.readonly_fields, as_text)
        return super().render_change_form(request, context, *args, **kwargs)
