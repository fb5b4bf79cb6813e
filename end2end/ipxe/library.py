"""The web app as an admin's browser drives it, for setting up the library scenarios: sign in,
upload files (tus), call server functions."""

import base64
import http.cookiejar
import json
import os
import urllib.parse
import urllib.request


def b64(text):
    return base64.b64encode(text.encode()).decode()


def form_of(image):
    """The form that saves `image` (a BootImage as the server answers it) unchanged."""
    return {
        "title": image["title"],
        "kind": {"KernelInitrd": "kernel_initrd", "Iso": "iso"}[image["kind"]],
        "kernel_url": image["kernel_url"] or "",
        "image_url": image["image_url"],
        "iso_boot": "" if image["kind"] == "KernelInitrd" else image["iso_boot"].lower(),
        "args": image["args"],
        "iso_url": image.get("iso_url") or "",
    }


class Web:
    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def _send(self, request, expect):
        with self.opener.open(request, timeout=120) as response:
            if response.status != expect:
                raise AssertionError(f"{request.full_url}: {response.status} {response.read()!r}")
            return response.headers, response.read()

    def call(self, endpoint, **fields):
        """A server function with form fields; its JSON answer."""
        request = urllib.request.Request(
            f"{self.base}/api/{endpoint}",
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Accept": "application/json"},
        )
        return json.loads(self._send(request, 200)[1] or b"null")

    def call_json(self, endpoint, body):
        """A JSON-encoded server function; its JSON answer."""
        request = urllib.request.Request(
            f"{self.base}/api/{endpoint}",
            data=json.dumps(body).encode(),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        return json.loads(self._send(request, 200)[1] or b"null")

    def sign_in(self, username, password):
        self.call("login", username=username, password=password)

    def organization(self, name):
        return next(o["id"] for o in self.call("my_organizations") if o["name"] == name)

    def images(self, organization):
        return self.call("images", organization_id=organization, filter="", page=0)["items"]

    def update_image(self, organization, image, form):
        self.call_json("update_image", {"organization_id": organization, "image_id": image,
                                        "form": form})

    def upload(self, organization, name, path):
        """Uploads the file at `path` into the organization's library in one piece; its id."""
        size = os.path.getsize(path)
        created = urllib.request.Request(
            f"{self.base}/uploads", method="POST", data=b"",
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Length": str(size),
                "Upload-Metadata": f"organization {b64(str(organization))},name {b64(name)}",
            },
        )
        headers, _ = self._send(created, 201)
        with open(path, "rb") as f:
            body = f.read()
        patch = urllib.request.Request(
            f"{self.base}{headers['Location']}", method="PATCH", data=body,
            headers={
                "Tus-Resumable": "1.0.0",
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": "0",
            },
        )
        headers, _ = self._send(patch, 204)
        # /files/<id>/<name>
        return int(headers["Content-Location"].split("/")[2])
