/** Placeholder: this page is being built on the Studio scaffold (studio/README.md, "Studio scaffold"). */
export default function Operators() {
  return (
    <section>
      <h1>Operators</h1>
      <p className="muted">This page is coming soon.</p>
    </section>
  );
}
