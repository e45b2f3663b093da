// Kept out of index.html so the Content-Security-Policy can forbid inline scripts.
window.ui = SwaggerUIBundle({ url: "/docs/json", dom_id: "#swagger-ui", deepLinking: true });
