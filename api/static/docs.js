// The API documentation page (/docs): Swagger UI, vendored in
// /static/vendor/swagger-ui, on this service's own OpenAPI document. No
// validator badge (it would ask a third party to read the document).
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
