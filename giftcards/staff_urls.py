"""Routes of the staff dashboard (inside the admin) and the public balance page."""

from django.contrib import admin
from django.urls import path, re_path

from giftcards import balance_page, staff_views

urlpatterns = [
    re_path(r"^balance/?$", balance_page.balance_check, name="balance-check"),
    path("admin/dashboard/", admin.site.admin_view(staff_views.dashboard), name="staff-dashboard"),
    path(
        "admin/dashboard/expiry.csv",
        admin.site.admin_view(staff_views.expiry_report),
        name="staff-report-expiry",
    ),
    path(
        "admin/dashboard/activity.csv",
        admin.site.admin_view(staff_views.activity_report),
        name="staff-report-activity",
    ),
]
