/** Placeholder: this page is being built on the Studio scaffold (studio/README.md, "Studio scaffold"). */
export default function Adapter() {
  return (
    <section>
      <h1>Adapter</h1>
      <p className="muted">This page is coming soon.</p>
    </section>
  );
}
