from rest_framework.permissions import BasePermission, DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Exactly the token's user's model permissions (docs/security.md, "Who is who"): reading an
    endpoint needs the model's view_ permission, creating add_, deleting delete_, and changing,
    or any action on one object (POST /api/alerts/{name}/run, enable, silence…), change_.
    Superusers have them all; others get them through the Sentinel groups."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        # DRF checks writes only; without these a token of a user with no permission reads everything.
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if getattr(view, "_ignore_model_permissions", False):  # the router's index: links, no data
            return True
        method = request.method
        if method == "POST" and getattr(view, "action", None) != "create":
            method = "PATCH"  # an @action on one object changes that object
        # The model from the class attribute, not get_queryset(): that reads the filters, and a
        # request that may not read must be refused before its query string is looked at.
        return user.has_perms(self.get_required_permissions(method, view.queryset.model))


class ReadsStatistics(BasePermission):
    """Statistics are figures about alerts made from their executions: reading them needs both
    view_alert and view_execution (docs/security.md §3)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.has_perms(["alerts.view_alert", "alerts.view_execution"])
