// Passkeys (WebAuthn) for the forms marked data-passkey="register" or "login".
//
// The server puts the WebAuthn options in a JSON data block (the element named by
// data-passkey-options). On submit this script asks the browser for a new passkey
// (navigator.credentials.create) or a signature (navigator.credentials.get), writes
// the answer as JSON into the form's hidden "credential" field and submits the form
// as usual. Without WebAuthn the form stays hidden and the message in
// data-passkey-unsupported is shown instead. Loaded as a file: the pages' Content
// Security Policy allows no inline script.
"use strict";

(function () {
  function toBytes(base64url) {
    const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  // The credential as JSON, in the shape of the WebAuthn Level 3 toJSON().
  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") {
      return credential.toJSON();
    }
    const response = credential.response;
    const json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      if (response.userHandle) {
        json.response.userHandle = toBase64url(response.userHandle);
      }
    }
    return json;
  }

  function setUp(form) {
    const mode = form.dataset.passkey;
    const source = document.getElementById(form.dataset.passkeyOptions);
    const field = form.querySelector("input[name=credential]");
    const status = form.querySelector("[data-passkey-status]");
    const button = form.querySelector("button[type=submit]");
    if (!source || !field || !status || !button) {
      return;
    }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      status.textContent = form.dataset.passkeyUnsupported;
      button.disabled = true;
      return;
    }
    const options = JSON.parse(source.textContent);
    button.disabled = false;

    form.addEventListener("submit", function (event) {
      if (field.value) {
        return; // the answer is in: let the form go
      }
      event.preventDefault();
      if (!form.reportValidity()) {
        return;
      }
      status.textContent = form.dataset.passkeyWaiting;
      button.disabled = true;
      const ask =
        mode === "register"
          ? navigator.credentials.create({ publicKey: creationOptions(options) })
          : navigator.credentials.get({ publicKey: requestOptions(options) });
      ask
        .then(function (credential) {
          field.value = JSON.stringify(credentialJSON(credential));
          status.textContent = "";
          form.submit();
        })
        .catch(function () {
          status.textContent = form.dataset.passkeyFailed;
          button.disabled = false;
        });
    });
  }

  document.querySelectorAll("form[data-passkey]").forEach(setUp);
})();
