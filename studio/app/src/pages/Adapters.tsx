/** Placeholder: this page is being built on the Studio scaffold (studio/README.md, "Studio scaffold"). */
export default function Adapters() {
  return (
    <section>
      <h1>Adapters</h1>
      <p className="muted">This page is coming soon.</p>
    </section>
  );
}
