from django.contrib import admin
from django.urls import path

admin.site.site_header = "Sentinel"
admin.site.site_title = "Sentinel"
admin.site.index_title = "SQL alerting"

urlpatterns = [
    path("admin/", admin.site.urls),
]
