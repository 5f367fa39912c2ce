from rest_framework.permissions import SAFE_METHODS, BasePermission


class ReadOrChangeWithPermission(BasePermission):
    """Any authenticated user reads; changing needs the model's add/change/delete permission
    (superusers have them all; give others through groups in the admin)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        model = view.queryset.model
        action = {"create": "add", "destroy": "delete"}.get(getattr(view, "action", None), "change")
        return user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}")
