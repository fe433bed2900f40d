/** Placeholder: this page is being built on the Studio scaffold (studio/README.md, "Studio scaffold"). */
export default function Earnings() {
  return (
    <section>
      <h1>Earnings</h1>
      <p className="muted">This page is coming soon.</p>
    </section>
  );
}
