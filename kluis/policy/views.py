from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from kluis.policy.loader import current_policy


def statement(request: HttpRequest) -> HttpResponse:
    return render(request, "policy/statement.html", {"policy": current_policy()})
